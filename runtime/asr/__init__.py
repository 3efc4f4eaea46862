"""Speech recognition: what a human says, as text (a recognizer by name), and where they start and stop (a VAD)."""

from eai_avatar.runtime.asr.base import (
    DEFAULT_RECOGNIZER,
    RECOGNIZER_NAMES,
    SpeechRecognizer,
    Transcript,
    create_recognizer,
)
from eai_avatar.runtime.asr.vad import VadEvent, VoiceActivityDetector

__all__ = [
    "DEFAULT_RECOGNIZER",
    "RECOGNIZER_NAMES",
    "SpeechRecognizer",
    "Transcript",
    "VadEvent",
    "VoiceActivityDetector",
    "create_recognizer",
]
