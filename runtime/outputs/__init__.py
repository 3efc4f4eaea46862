"""Outputs: adapters over a session's one stream of typed events (`pipeline/events.py`). `grpc` makes the
Converse stream's messages; `zmq` publishes to local viewers; `livelink` sends faces to Unreal; `web` shows a
browser both avatars over WebRTC. A new output is a new adapter here, and the stages never change for it."""
