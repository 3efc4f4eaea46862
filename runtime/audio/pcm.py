"""The one way audio from outside the process enters the runtime: decoded, validated, resampled to 16 kHz.

Every path uses it: a game's voice line (ScriptedLine.audio), a human's microphone chunks (UserAudioChunk), a
TurnRequest built in code. Errors name the bad value; a value over a documented limit is `LimitExceeded`.
"""

from __future__ import annotations

import numpy as np

from eai_avatar.runtime.audio.resample import StreamingResampler, resample
from eai_avatar.runtime.errors import InvalidInput, LimitExceeded
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import MAX_CLIENT_SAMPLE_RATE, MIN_CLIENT_SAMPLE_RATE, SAMPLE_RATE


def check_sample_rate(sample_rate: object, what: str = "audio") -> int:
    """`sample_rate` as an int in the contract's 8000..48000 Hz, or InvalidInput naming it."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise InvalidInput(f"{what}: sample_rate must be an integer in Hz, got {sample_rate!r}")
    if not MIN_CLIENT_SAMPLE_RATE <= sample_rate <= MAX_CLIENT_SAMPLE_RATE:
        raise InvalidInput(f"{what}: sample_rate must be {MIN_CLIENT_SAMPLE_RATE}..{MAX_CLIENT_SAMPLE_RATE} Hz, "
                           f"got {sample_rate}")  # fmt: skip
    return int(sample_rate)


def decode_pcm16(data: bytes | bytearray | memoryview | np.ndarray, sample_rate: object, max_seconds: float,
                 what: str = "audio") -> np.ndarray:  # fmt: skip
    """Mono PCM16 (little-endian bytes, or an int16 array) at `sample_rate`, checked: int16 samples at that rate.

    InvalidInput for empty audio, an odd byte count (a torn sample), a non-int16 or multi-channel array or a rate
    outside 8000..48000 Hz; LimitExceeded for more than `max_seconds` of audio.
    """
    rate = check_sample_rate(sample_rate, what)
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) % 2:
            raise InvalidInput(f"{what}: PCM16 needs an even number of bytes, got {len(raw)}")
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif isinstance(data, np.ndarray):
        if data.dtype != np.int16:
            raise InvalidInput(f"{what}: an audio array must be int16 PCM, got {data.dtype}")
        if data.ndim != 1:
            raise InvalidInput(f"{what}: audio must be mono (1-D), got shape {data.shape}")
        samples = data
    else:
        raise InvalidInput(f"{what}: audio must be bytes or an int16 numpy array, got {type(data).__name__}")
    if samples.size == 0:
        raise InvalidInput(f"{what}: the audio is empty")
    if samples.size > max_seconds * rate:
        raise LimitExceeded(f"{what}: {samples.size / rate:.2f} s of audio, more than the {max_seconds:g} s limit")
    return samples


def to_model_rate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """int16 samples at `sample_rate` -> int16 at the models' 16 kHz (rounded and clipped, never wrapped)."""
    return np.asarray(samples, np.int16) if sample_rate == SAMPLE_RATE else resample(samples, sample_rate, SAMPLE_RATE)


def speech_from_pcm16(data: bytes | bytearray | memoryview | np.ndarray, sample_rate: object, max_seconds: float,
                      text: str = "", what: str = "audio") -> SpeechAudio:  # fmt: skip
    """`decode_pcm16`, then to 16 kHz, as the SpeechAudio the pipeline takes (no phoneme timings)."""
    samples = decode_pcm16(data, sample_rate, max_seconds, what)
    return SpeechAudio(to_model_rate(samples, int(sample_rate)), SAMPLE_RATE, text=text)


class PcmStream:
    """A client's audio arriving in chunks at one sample rate, to 16 kHz as it comes (`StreamingResampler`: the
    joined output equals resampling the whole, whatever the chunking). Counts samples at the client's rate, so
    frames can be tied to positions in the client's own audio."""

    def __init__(self, sample_rate: int):
        self.sample_rate = check_sample_rate(sample_rate)
        self.client_samples = 0
        self._resampler = None if self.sample_rate == SAMPLE_RATE else StreamingResampler(self.sample_rate, SAMPLE_RATE)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """int16 samples at this stream's rate -> the int16 16 kHz samples they complete."""
        self.client_samples += len(samples)
        if self._resampler is None:
            return np.asarray(samples, np.int16)
        return _to_int16(self._resampler.push(samples.astype(np.float32)))

    def finish(self) -> np.ndarray:
        return np.zeros(0, np.int16) if self._resampler is None else _to_int16(self._resampler.finish())


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
