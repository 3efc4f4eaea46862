"""espeak-ng as a speech source: the runtime's own `EspeakBackend`, its phone events as timings.

Phones are espeak-ng mnemonics without stress marks ("p", "aI", "3:"), pauses are "_"; the timings come from the
library's phoneme events (exact sample positions, see runtime/tts/espeak.py). espeak-ng is installed from PyPI
(`espeakng-loader`, the project's `tts` extra), not from Debian.
"""

from __future__ import annotations

import ctypes
from importlib import metadata

import numpy as np

from eai_avatar.export.speech.base import Phone, SpeechSource, refuse_reserved
from eai_avatar.runtime.motion.visemes import viseme_for


class EspeakSource(SpeechSource):
    """espeak-ng voices: the curated English speakers, and any language[+variant] the library accepts."""

    family = "espeak"
    phone_set = "espeak"

    def __init__(self):
        from eai_avatar.runtime.tts.espeak import EspeakBackend  # ImportError naming espeakng-loader when missing

        self._backend = EspeakBackend()

    def voices(self) -> list[str]:
        return self._backend.voices()

    def check_voice(self, voice: str) -> str:
        refuse_reserved(voice)
        if not self._backend.accepts(voice):
            raise ValueError(
                f"unknown espeak voice {voice!r}; try {', '.join(self.voices()[:5])}, or any espeak-ng language "
                f"with an optional +variant"
            )
        return voice

    def program_version(self) -> str:
        import espeakng_loader

        library = ctypes.CDLL(espeakng_loader.get_library_path())  # the handle the backend already loaded
        library.espeak_Info.argtypes = [ctypes.c_void_p]
        library.espeak_Info.restype = ctypes.c_char_p
        native = (library.espeak_Info(None) or b"?").decode("utf-8", errors="replace")
        return f"libespeak-ng {native} (espeakng-loader {metadata.version('espeakng-loader')})"

    def _speak(self, text: str, voice: str) -> tuple[np.ndarray, tuple[Phone, ...]]:
        speech = self._backend.synthesize(text, voice)
        phones = tuple(Phone(p.phoneme, p.start_s, p.end_s, viseme_for(p.phoneme)) for p in speech.phonemes)
        if not phones:
            raise RuntimeError(f"espeak-ng gave no phoneme events for {text!r}")
        return speech.samples, phones
