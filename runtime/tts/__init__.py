"""Text to speech with phoneme timing: the voice of each character, and the timing its mouth follows."""

from eai_avatar.runtime.tts.base import PhonemeTiming, SpeechAudio, TTSBackend, WordTiming
from eai_avatar.runtime.tts.voices import VoiceBank

__all__ = ["PhonemeTiming", "SpeechAudio", "TTSBackend", "VoiceBank", "WordTiming"]
