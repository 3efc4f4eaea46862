"""What every speech source gives the pipeline: 16 kHz PCM16 audio, and (when known) phoneme and word timings.

A TTS backend makes it from text and a voice; a game's own voice line ("client audio") is the same type with
no phonemes, and Audio2Exp drives the face from the audio alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from eai_avatar.vocabulary import SAMPLE_RATE


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme: its espeak-ng mnemonic (e.g. "a", "t", "S", "aI"; "_" is a pause) and its span in seconds."""

    phoneme: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class WordTiming:
    word: str
    start_s: float
    end_s: float


@dataclass
class SpeechAudio:
    """Mono PCM16 at `sample_rate` (16 kHz from every backend) with optional timings."""

    samples: np.ndarray  # int16, shape (n,)
    sample_rate: int = SAMPLE_RATE
    phonemes: list[PhonemeTiming] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    text: str = ""
    voice: str = ""

    def __post_init__(self):
        samples = np.asarray(self.samples)
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise ValueError(f"samples must be mono int16 PCM, got {samples.dtype} with shape {samples.shape}")
        if not isinstance(self.sample_rate, int) or not 8_000 <= self.sample_rate <= 48_000:
            raise ValueError(f"sample_rate must be an integer in 8000..48000 Hz, got {self.sample_rate!r}")
        self.samples = samples

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class TTSBackend(ABC):
    """(text, voice) -> SpeechAudio at 16 kHz with phoneme timings."""

    name: str

    @abstractmethod
    def voices(self) -> list[str]:
        """The voice names this backend accepts."""

    def accepts(self, voice: str) -> bool:
        """Whether `synthesize` takes `voice` (by default: one of `voices()`)."""
        return voice in self.voices()

    @abstractmethod
    def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak `text` with `voice`. ValueError for empty text or an unknown voice."""
