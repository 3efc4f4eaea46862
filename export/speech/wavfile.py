"""PCM16 WAV files in and out, with the standard library's `wave` (no extra dependency)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from eai_avatar.vocabulary import SAMPLE_RATE


def read_pcm16(path: Path) -> tuple[np.ndarray, int]:
    """(mono int16 samples, sample rate) of a PCM16 WAV file; channels are averaged. ValueError for other formats."""
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            data = handle.readframes(handle.getnframes())
    except wave.Error as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from exc
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit samples")
    samples = np.frombuffer(data, dtype="<i2").astype(np.int16)
    if channels > 1:
        frames = samples[: len(samples) // channels * channels].reshape(-1, channels).astype(np.float64)
        samples = np.rint(frames.mean(axis=1)).astype(np.int16)
    return samples, rate


def write_pcm16(path: Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Mono int16 samples as a PCM16 WAV file."""
    array = np.asarray(samples)
    if array.ndim != 1 or array.dtype != np.int16:
        raise ValueError(f"samples must be mono int16 PCM, got {array.dtype} with shape {array.shape}")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(array.astype("<i2").tobytes())
