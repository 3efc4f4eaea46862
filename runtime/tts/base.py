"""What every speech source gives the pipeline: 16 kHz PCM16 audio, and (when known) phoneme and word timings.

A TTS backend makes it from text and a voice; a game's own voice line ("client audio") is the same type with
no phonemes, and Audio2Exp drives the face from the audio alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from eai_avatar.runtime.audio.resample import resample
from eai_avatar.vocabulary import MAX_TEXT_CHARS, SAMPLE_RATE, SAMPLES_PER_FRAME

#: Speaking speeds a voice may be given (1.0 is the voice's own pace): the range the neural voices stay natural in.
SPEED_RANGE = (0.5, 2.0)


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
    """(text, voice) -> SpeechAudio at 16 kHz, with phoneme timings where the backend knows them."""

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

    def stream(self, text: str, voice: str, **options) -> Iterator[SpeechAudio]:
        """Speak `text` in pieces (sentence by sentence where the backend can), each 16 kHz audio as soon as it
        exists, so playback can start before the whole line is made; the pieces joined are `synthesize`'s audio.

        By default the line is one piece, made before this returns (so a bad voice fails here, not on the first
        `next`); `options` are passed on to `synthesize`.
        """
        return iter((self.synthesize(text, voice, **options),))


def check_text(text: object) -> str:
    """`text` if one call may speak it; ValueError for a non-string, blank or over-long text."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"text is empty: {text!r}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text is {len(text)} characters, more than the {MAX_TEXT_CHARS} one call accepts")
    return text


def check_speed(speed: object) -> float:
    """`speed` as a float if it lies in SPEED_RANGE; ValueError naming it otherwise."""
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise ValueError(f"speed must be a number in {SPEED_RANGE[0]}..{SPEED_RANGE[1]}, got {speed!r}")
    return float(speed)


#: Silence a neural voice's line keeps before its first word (hibari's sentences begin with up to 0.3 s of it,
#: which a listener hears as the agent being slow to answer), and the pause it keeps between sentences.
LEAD_MS, PAUSE_MS = 10, 300
#: Audio quieter than this (RMS of PCM16 over 20 ms, about -46 dBFS) is the silence around a sentence.
SILENCE_RMS = 160.0


def trim_silence(samples: np.ndarray, lead_ms: int = LEAD_MS, tail_ms: int = PAUSE_MS // 2) -> np.ndarray:
    """`samples` (16 kHz) with the silence before the first and after the last audible 20 ms cut to `lead_ms` and
    `tail_ms`; audio with nothing audible comes back as it is."""
    frame = SAMPLE_RATE // 50
    count = len(samples) // frame
    if count == 0:
        return samples
    levels = np.sqrt(np.mean(samples[: count * frame].astype(np.float64).reshape(count, frame) ** 2, axis=1))
    audible = np.flatnonzero(levels > SILENCE_RMS)
    if len(audible) == 0:
        return samples
    start = max(0, audible[0] * frame - lead_ms * SAMPLE_RATE // 1000)
    end = min(len(samples), (audible[-1] + 1) * frame + tail_ms * SAMPLE_RATE // 1000)
    return samples[start:end]


def pcm16_at_model_rate(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float audio in [-1, 1] at `sample_rate` -> int16 at 16 kHz, clipped: what a neural voice hands the pipeline."""
    resampled = resample(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate, SAMPLE_RATE)
    return np.clip(np.rint(resampled * 32767.0), -32768, 32767).astype(np.int16)


def check_threads(threads: object) -> int:
    """`threads` if it is a positive integer (onnxruntime's threads of a voice); ValueError naming it otherwise."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    return threads


class SentenceBackend(TTSBackend):
    """A neural backend with one voice that speaks a line sentence by sentence (16 kHz, no timings: the models do
    not expose them). `synthesize` is `stream`'s pieces joined, so the two always agree."""

    voice: str

    def voices(self) -> list[str]:
        return [self.voice]

    def synthesize(self, text: str, voice: str, *, speed: float = 1.0) -> SpeechAudio:
        """Speak `text` at `speed` (1.0: the voice's own pace); ValueError for bad text, voice or speed."""
        pieces = list(self.stream(text, voice, speed=speed))
        return SpeechAudio(np.concatenate([p.samples for p in pieces]), SAMPLE_RATE, text=text, voice=voice)

    def stream(self, text: str, voice: str, *, speed: float = 1.0) -> Iterator[SpeechAudio]:
        """One SpeechAudio per sentence, each made when it is asked for (the arguments are checked now).

        A sentence with nothing to pronounce (punctuation alone) is skipped; a line with nothing at all is one frame
        of silence, so every line has audio for the face to follow.
        """
        check_text(text)
        if voice != self.voice:
            raise ValueError(f"unknown {self.name} voice {voice!r}; this backend speaks {self.voice!r} alone")
        return self._audible(self._sentences(text, check_speed(speed)), voice)

    @abstractmethod
    def _sentences(self, text: str, speed: float) -> Iterator[tuple[str, np.ndarray]]:
        """(sentence, its int16 samples at 16 kHz) for each sentence of `text`, made one at a time."""

    @staticmethod
    def _audible(sentences: Iterable[tuple[str, np.ndarray]], voice: str) -> Iterator[SpeechAudio]:
        heard = False
        for sentence, samples in sentences:
            samples = trim_silence(samples, lead_ms=LEAD_MS if not heard else PAUSE_MS // 2, tail_ms=PAUSE_MS // 2)
            if len(samples):
                heard = True
                yield SpeechAudio(samples, SAMPLE_RATE, text=sentence, voice=voice)
        if not heard:
            yield SpeechAudio(np.zeros(SAMPLES_PER_FRAME, dtype=np.int16), SAMPLE_RATE, voice=voice)
