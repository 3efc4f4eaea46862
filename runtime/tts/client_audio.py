"""A game's own voice line ("client audio") as SpeechAudio: validated PCM16, resampled to the pipeline's 16 kHz.

Client audio has no phoneme timings; Audio2Exp drives the face from the samples alone. It comes from outside the
process, so everything about it is checked before it reaches the pipeline, with errors that name the bad value.
"""

from __future__ import annotations

import numpy as np

from eai_avatar.runtime.audio import resample
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import SAMPLE_RATE

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
#: Longest voice line accepted, in seconds: bounds the memory one request can pin.
MAX_DURATION_S = 600.0


def speech_from_pcm16(
    data: bytes | bytearray | memoryview | np.ndarray, sample_rate: int, text: str = ""
) -> SpeechAudio:
    """Mono PCM16 (little-endian bytes, or an int16 array) at `sample_rate` -> SpeechAudio at 16 kHz.

    ValueError for empty audio, an odd byte count (a torn sample), a non-int16 or multi-channel array, a sample
    rate outside 8000..48000 Hz, or more than 10 minutes of audio.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ValueError(f"sample_rate must be an integer in Hz, got {sample_rate!r}")
    sample_rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz, got {sample_rate}")

    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if not raw:
            raise ValueError("client audio is empty (0 bytes)")
        if len(raw) % 2:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(raw)}")
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif isinstance(data, np.ndarray):
        if data.dtype != np.int16:
            raise ValueError(f"client audio array must be int16 PCM, got {data.dtype}")
        if data.ndim != 1:
            raise ValueError(f"client audio must be mono (1-D), got shape {data.shape}")
        if data.size == 0:
            raise ValueError("client audio is empty (0 samples)")
        samples = data
    else:
        raise ValueError(f"client audio must be bytes or an int16 numpy array, got {type(data).__name__}")

    duration_s = len(samples) / sample_rate
    if duration_s > MAX_DURATION_S:
        raise ValueError(f"client audio is {duration_s:.1f} s long, more than the {MAX_DURATION_S:.0f} s limit")
    return SpeechAudio(resample(samples, sample_rate, SAMPLE_RATE), SAMPLE_RATE, text=text)
