"""The runtime: the gRPC server, conversations and their Interactive Talking Trees, emotion, dialogue and
TTS backends, the face rig, the inference engines and the turn pipeline. Never imports torch."""
