"""Log-mel features of 16 kHz speech, in numpy only, shared by training and inference.

The audio-to-expression model sees the same features offline (training, `log_mel` on a whole clip) and live
(`StreamingLogMel` fed with network chunks), so both go through one code path. Framing is causal: frame i covers
samples [(i + 1) * hop - window, (i + 1) * hop), with zeros before the start of the stream, so it can be computed as
soon as sample (i + 1) * hop has arrived and streaming never has to wait for future audio or revise a frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from eai_avatar.vocabulary import FPS, SAMPLE_RATE

#: Full scale of PCM16: int16 samples are divided by this to land in [-1, 1).
_INT16_SCALE = 32768.0
#: Frames analysed per block (1.28 s of audio at the default hop).
_BLOCK_FRAMES = 128


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"LogMelConfig.{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class LogMelConfig:
    """Log-mel analysis settings; the defaults give 80 mels at 100 frames per second (4 per 25 fps video frame)."""

    sample_rate: int = SAMPLE_RATE
    #: Analysis window in samples (25 ms), periodic Hann.
    window: int = 400
    #: Hop in samples (10 ms): one feature frame per hop.
    hop: int = 160
    n_fft: int = 512
    n_mels: int = 80
    fmin: float = 20.0
    fmax: float = 7600.0
    #: Mel power is clamped to at least this before the log, so silence gives log(log_floor), not -inf.
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("sample_rate", "window", "hop", "n_fft", "n_mels"):
            _check_positive_int(name, getattr(self, name))
        if not self.hop <= self.window <= self.n_fft:
            raise ValueError(
                f"LogMelConfig needs hop <= window <= n_fft, got hop={self.hop}, window={self.window}, "
                f"n_fft={self.n_fft}"
            )
        nyquist = self.sample_rate / 2
        for name in ("fmin", "fmax", "log_floor"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise ValueError(f"LogMelConfig.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"LogMelConfig.{name} must be finite, got {value!r}")
        if not 0 <= self.fmin < self.fmax <= nyquist:
            raise ValueError(
                f"LogMelConfig needs 0 <= fmin < fmax <= sample_rate / 2 = {nyquist:g} Hz, "
                f"got fmin={self.fmin}, fmax={self.fmax}"
            )
        if self.log_floor <= 0:
            raise ValueError(f"LogMelConfig.log_floor must be > 0, got {self.log_floor!r}")
        # Builds (and caches) the filterbank now, so a config whose mel bands are too narrow for n_fft fails here
        # rather than on the first audio.
        _analysis(self)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def _band_edges_hz(config: LogMelConfig) -> np.ndarray:
    """The n_mels + 2 band edges in Hz, evenly spaced on the HTK mel scale; band m spans edges m..m+2."""
    low, high = _hz_to_mel(np.float64(config.fmin)), _hz_to_mel(np.float64(config.fmax))
    return _mel_to_hz(np.linspace(low, high, config.n_mels + 2))


class _Analysis(NamedTuple):
    """The precomputed, read-only pieces of one LogMelConfig."""

    #: Periodic Hann window, (window,).
    hann: np.ndarray
    #: Band m is sum_j band_weights[m, j] * power[band_bins[m, j]], both (n_mels, widest band); padding has weight 0.
    band_bins: np.ndarray
    band_weights: np.ndarray


@functools.lru_cache(maxsize=8)
def _analysis(config: LogMelConfig) -> _Analysis:
    """Window and HTK mel filterbank (triangles with peak 1 at each band centre) of `config`.

    Cached because every push of a stream needs them and building the filterbank costs far more than one frame.
    """
    n = np.arange(config.window, dtype=np.float64)
    # Periodic Hann (as torch.hann_window and librosa use), so training code built on either matches.
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / config.window)

    hz_edges = _band_edges_hz(config)
    bin_hz = np.arange(config.n_fft // 2 + 1, dtype=np.float64) * config.sample_rate / config.n_fft
    lower, centre, upper = hz_edges[:-2, None], hz_edges[1:-1, None], hz_edges[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    filterbank = np.maximum(0.0, np.minimum(rising, falling))
    widths = np.count_nonzero(filterbank, axis=1)
    empty = np.flatnonzero(widths == 0)
    if empty.size:
        raise ValueError(
            f"LogMelConfig: mel bands {empty.tolist()} fall between FFT bins (bin spacing "
            f"{config.sample_rate / config.n_fft:g} Hz); use fewer n_mels, a larger n_fft or a wider fmin..fmax"
        )
    band_bins = np.zeros((config.n_mels, widths.max()), dtype=np.intp)
    band_weights = np.zeros((config.n_mels, widths.max()), dtype=np.float64)
    for m in range(config.n_mels):
        bins = np.flatnonzero(filterbank[m])
        band_bins[m, : bins.size] = bins
        band_weights[m, : bins.size] = filterbank[m, bins]
    for array in (hann, band_bins, band_weights):
        array.setflags(write=False)
    return _Analysis(hann, band_bins, band_weights)


def _features_per_video_frame(config: LogMelConfig, fps: int = FPS) -> int:
    """Feature frames per video frame; ValueError unless the hop tiles a video frame exactly."""
    per_second, rem = divmod(config.sample_rate, config.hop)
    per_frame, rem2 = divmod(per_second, fps)
    if rem or rem2 or per_frame == 0:
        raise ValueError(
            f"hop {config.hop} at {config.sample_rate} Hz does not give a whole number of feature frames per "
            f"{fps} fps video frame"
        )
    return per_frame


#: The default analysis, shared by every default argument (safe: the config is frozen).
DEFAULT_CONFIG = LogMelConfig()


def mel_band_centers(config: LogMelConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Centre frequency in Hz of each mel band, shape (n_mels,)."""
    return _band_edges_hz(config)[1:-1]


#: Feature frames per 25 fps video frame with the default config (4): frames 4t..4t+3 end exactly where video
#: frame t ends, so a video frame's features never need audio from after it.
FEATURES_PER_VIDEO_FRAME = _features_per_video_frame(DEFAULT_CONFIG)


def _as_float_audio(samples: object, what: str) -> np.ndarray:
    """1-D int16 or float32/float64 audio -> float64 in [-1, 1]; ValueError for anything else."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"{what} must be mono (1-D), got shape {x.shape}")
    if x.dtype == np.int16:
        return x.astype(np.float64) / _INT16_SCALE
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{what} must be int16, float32 or float64 (floats in [-1, 1]), got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return x.astype(np.float64, copy=False)


def _log_mel_frames(padded: np.ndarray, n_frames: int, config: LogMelConfig) -> np.ndarray:
    """Log-mel of frames i = 0..n_frames-1 where frame i is padded[i * hop : i * hop + window]."""
    out = np.empty((n_frames, config.n_mels), dtype=np.float32)
    if n_frames == 0:
        return out
    analysis = _analysis(config)
    frames = np.lib.stride_tricks.sliding_window_view(padded, config.window)[:: config.hop][:n_frames]
    # Blocks keep the temporaries (~0.5 MB) in cache: a 10 s clip in one piece (~4 MB of them) runs ~2x slower.
    for start in range(0, n_frames, _BLOCK_FRAMES):
        block = frames[start : start + _BLOCK_FRAMES]
        spectrum = np.fft.rfft(block * analysis.hann, n=config.n_fft, axis=-1)
        power = np.ascontiguousarray((spectrum.real**2 + spectrum.imag**2).T)  # (bins, frames): gathers whole rows
        # The filterbank is mostly zeros (98 % by default), so each band sums only its own few bins, one weight
        # column at a time. Unlike `power @ filterbank` this never starts BLAS threads (which stall badly on a busy
        # machine) and adds in the same order whatever the number of frames, so any chunking of a stream is
        # bit-identical to the whole clip.
        bins, weights = analysis.band_bins, analysis.band_weights
        mel = power[bins[:, 0]] * weights[:, :1]
        for j in range(1, bins.shape[1]):
            mel += power[bins[:, j]] * weights[:, j : j + 1]
        out[start : start + len(block)] = np.log(np.maximum(mel, config.log_floor)).T
    return out


def log_mel(
    samples: np.ndarray,
    sample_rate: int,
    config: LogMelConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """Causal log-mel power features of mono audio, shape (len(samples) // hop, n_mels), float32.

    `samples` is int16 (scaled by 1/32768) or float32/float64 in [-1, 1]. ValueError for a sample rate other than
    config.sample_rate, empty, multi-channel, non-finite or wrongly typed audio, or audio shorter than one hop.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
        raise ValueError(f"sample_rate must be an integer in Hz, got {sample_rate!r}")
    if sample_rate != config.sample_rate:
        raise ValueError(
            f"log_mel needs audio at {config.sample_rate} Hz, got {sample_rate} Hz; resample it first with "
            f"eai_avatar.runtime.audio.resample(samples, {sample_rate}, {config.sample_rate})"
        )
    x = _as_float_audio(samples, "samples")
    if x.size == 0:
        raise ValueError("samples is empty: log_mel needs at least one hop of audio")
    n_frames = x.size // config.hop
    if n_frames == 0:
        raise ValueError(
            f"audio is too short for one feature frame: {x.size} samples, needs at least hop = {config.hop} "
            f"({1000 * config.hop / config.sample_rate:g} ms)"
        )
    padded = np.concatenate([np.zeros(config.window - config.hop), x])
    return _log_mel_frames(padded, n_frames, config)


class StreamingLogMel:
    """Log-mel of a live stream: push chunks of any size, get every frame that became complete.

    The concatenated outputs equal log_mel of the whole stream. Only the last window - hop samples (the context
    the next frame overlaps) plus any partial hop are kept, so memory stays constant however long the stream runs.
    """

    def __init__(self, config: LogMelConfig = DEFAULT_CONFIG) -> None:
        self._config = config
        self.reset()

    @property
    def config(self) -> LogMelConfig:
        """The analysis settings; fixed for the stream's lifetime because the buffered context depends on them."""
        return self._config

    def reset(self) -> None:
        """Start a new stream: forget buffered audio; the next frame again sees zeros before its start."""
        # The zeros stand in for the audio before the stream began, exactly as log_mel left-pads.
        self._buffer = np.zeros(self._config.window - self._config.hop)

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Append `chunk` (1-D int16 or float32/float64, may be empty); returns the new frames, (k, n_mels) float32."""
        x = _as_float_audio(chunk, "chunk")  # validated before touching the buffer, so a bad chunk changes nothing
        cfg = self._config
        buffer = np.concatenate([self._buffer, x]) if x.size else self._buffer
        context = cfg.window - cfg.hop
        n_frames = (buffer.size - context) // cfg.hop
        out = _log_mel_frames(buffer, n_frames, cfg)
        self._buffer = buffer[n_frames * cfg.hop :].copy()
        return out


def frames_to_video(features: np.ndarray, features_per_frame: int = FEATURES_PER_VIDEO_FRAME) -> np.ndarray:
    """(T * k, n_mels) feature frames -> (T, k * n_mels), k consecutive frames per video frame, in time order.

    A trailing group of fewer than k frames (the start of a video frame not yet complete) is dropped.
    """
    k = features_per_frame
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"features_per_frame must be a positive integer, got {features_per_frame!r}")
    f = np.asarray(features)
    if f.ndim != 2:
        raise ValueError(f"features must be 2-D (frames, n_mels), got shape {f.shape}")
    t = f.shape[0] // k
    return f[: t * k].reshape(t, k * f.shape[1])
