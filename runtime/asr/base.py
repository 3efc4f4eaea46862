"""What every speech recognizer shares: the transcript it gives, the checks on the audio it takes, the registry.

A human's voice reaches the runtime as int16 mono 16 kHz audio (`runtime/audio/pcm.py` resamples the client's
rate); a recognizer turns an utterance of it into text, so the agent can answer what was said and the emotion
recognizer C can read it. Backends are chosen by name and their modules imported only when asked for, so the
runtime runs without any of their packages installed.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.tts.base import WordTiming
from eai_avatar.vocabulary import SAMPLE_RATE

#: Audio whose loudest 20 ms stays under this level (dBFS) is silence: it never reaches a model, which could only
#: make something up from it.
SILENCE_DBFS = -55.0
_LOUDNESS_FRAME = SAMPLE_RATE // 50


@dataclass(frozen=True)
class Transcript:
    """What was said. `words` are timed from the audio's first sample (when the backend gives them);
    `confidence` is the model's mean token probability, 0-1, or None when it gives none."""

    text: str
    words: tuple[WordTiming, ...] = ()
    language: str = "en"
    confidence: float | None = None


def check_samples(samples: object) -> np.ndarray:
    """`samples` if it is non-empty 1-D int16 audio (16 kHz mono, by contract), else a ValueError naming it."""
    if not isinstance(samples, np.ndarray):
        raise ValueError(f"samples must be an int16 numpy array of 16 kHz mono audio, got {type(samples).__name__}")
    if samples.dtype != np.int16:
        raise ValueError(f"samples must be int16 PCM (16 kHz mono), got dtype {samples.dtype}")
    if samples.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {samples.shape}")
    if samples.size == 0:
        raise ValueError("samples is empty: there is no audio to transcribe")
    return samples


def peak_level_dbfs(samples: np.ndarray) -> float:
    """The level of the loudest 20 ms of int16 audio, dBFS (-inf for digital silence)."""
    x = samples.astype(np.float64) / 32768.0
    frames = len(x) // _LOUDNESS_FRAME
    if frames:
        power = np.mean(x[: frames * _LOUDNESS_FRAME].reshape(frames, _LOUDNESS_FRAME) ** 2, axis=1).max()
    else:
        power = np.mean(x**2)
    return float(10 * np.log10(power)) if power > 0 else float("-inf")


class SpeechRecognizer(ABC):
    """16 kHz int16 mono speech -> `Transcript`.

    `transcribe` checks the audio and answers silence itself (an empty text, never a model's guess); backends
    implement `_recognize`. A recognizer may be shared by sessions: backends guard what they hold.
    """

    name: str
    #: The keyword options `create_recognizer` passes on.
    OPTIONS: tuple[str, ...] = ()

    def transcribe(self, samples: np.ndarray, prompt: str = "") -> Transcript:
        """What is said in `samples`; `prompt` is text that may precede it (names, the last line), a hint only.

        ValueError for audio that is not non-empty 1-D int16, or a prompt that is not a str.
        """
        samples = check_samples(samples)
        if not isinstance(prompt, str):
            raise ValueError(f"prompt must be a str, got {type(prompt).__name__}")
        if peak_level_dbfs(samples) < SILENCE_DBFS:
            return Transcript("")
        return self._recognize(samples, prompt.strip())

    @abstractmethod
    def _recognize(self, samples: np.ndarray, prompt: str) -> Transcript:
        """Transcribe checked, not silent audio."""

    def close(self) -> None:  # noqa: B027 - optional hook; most recognizers hold nothing to release
        """Release what the recognizer holds (a model, a connection). Safe to call twice."""


# name -> (module, class); a backend's module is imported only when it is asked for.
_RECOGNIZERS: dict[str, tuple[str, str]] = {
    "whisper": ("eai_avatar.runtime.asr.whisper", "WhisperRecognizer"),
    "openai": ("eai_avatar.runtime.asr.openai", "OpenAITranscriber"),
}
#: Offline, on the CPU: Whisper tiny.en through faster-whisper.
DEFAULT_RECOGNIZER = "whisper"
RECOGNIZER_NAMES: tuple[str, ...] = tuple(_RECOGNIZERS)


def create_recognizer(name: str = DEFAULT_RECOGNIZER, **options) -> SpeechRecognizer:
    """The recognizer called `name` ("whisper", offline, the default; "openai", an OpenAI-compatible server).

    `options` are the backend's own keyword options; an unknown name or option is a ValueError naming it, a
    backend whose package is missing an ImportError naming what to install.
    """
    where = _RECOGNIZERS.get(name or DEFAULT_RECOGNIZER)
    if where is None:
        raise ValueError(f"unknown speech recognizer {name!r}; expected one of {', '.join(RECOGNIZER_NAMES)}")
    cls = getattr(importlib.import_module(where[0]), where[1])
    if unknown := sorted(set(options) - set(cls.OPTIONS)):
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for speech recognizer {cls.name!r}; accepted: "
                         f"{', '.join(cls.OPTIONS)}")  # fmt: skip
    return cls(**options)
