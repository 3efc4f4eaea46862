"""Sample-rate conversion for speech audio, in numpy only.

Every speech source reaches the pipeline at 16 kHz (eai_avatar.vocabulary.SAMPLE_RATE), but TTS engines and game
clients deliver 8-48 kHz. The runtime must not depend on scipy, so this module carries its own polyphase
windowed-sinc resampler: a Kaiser-windowed low-pass designed at the common (upsampled) rate and applied one output
sample at a time through its polyphase branches, so no zero-stuffed signal is ever materialized.
"""

from __future__ import annotations

import functools
import math

import numpy as np

#: Half-length of the low-pass in zero crossings of the lower of the two rates. 32 gives a transition band of
#: about 15 % of the lower Nyquist frequency with the Kaiser window below, more than enough for speech.
_ZERO_CROSSINGS = 32
#: Kaiser beta: about 80 dB stop-band attenuation, so aliased energy sits far below PCM16 speech levels.
_KAISER_BETA = 8.0
#: Cut-off as a fraction of the lower Nyquist frequency; the transition band is centred here, so the pass band
#: stays flat to about 0.84 and the stop band starts at about 1.0 of the lower Nyquist frequency.
_ROLLOFF = 0.92
#: Output samples computed per block, which bounds the temporary (block x taps) matrices to a few MB.
_BLOCK = 16_384


@functools.lru_cache(maxsize=16)
def _polyphase_filter(up: int, down: int) -> np.ndarray:
    """The low-pass split into `up` polyphase branches, each reversed, shape (up, taps_per_branch).

    Cached because a process resamples between the same few rate pairs over and over.
    """
    factor = max(up, down)
    half = _ZERO_CROSSINGS * factor
    n = np.arange(-half, half + 1, dtype=np.float64)
    cutoff = _ROLLOFF / factor  # in cycles per upsampled sample, times 2 (np.sinc uses pi * x)
    h = cutoff * np.sinc(cutoff * n) * np.kaiser(2 * half + 1, _KAISER_BETA)
    h *= up / h.sum()  # unity DC gain after zero-stuffing by `up`
    taps = -(-len(h) // up)
    padded = np.zeros(taps * up, dtype=np.float64)
    padded[: len(h)] = h
    # Branch p holds h[p], h[p + up], h[p + 2 up], ...; reversed so each branch dots with a forward input window.
    return np.ascontiguousarray(padded.reshape(taps, up).T[:, ::-1])


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono audio from `from_rate` to `to_rate` Hz; returns the input's dtype.

    Float input stays float (same precision); int16 input is rounded and clipped back to int16 so PCM16 callers
    never see wrap-around. The output has ceil(n * to_rate / from_rate) samples and is time-aligned with the input
    (the filter is zero-phase), so timings computed on the input still hold.
    """
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if x.dtype != np.int16 and not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"samples must be int16 or floating point, got {x.dtype}")
    for label, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
            raise ValueError(f"{label} must be a positive integer in Hz, got {rate!r}")
    from_rate, to_rate = int(from_rate), int(to_rate)
    if from_rate == to_rate:
        return x.copy()

    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    n_in = len(x)
    n_out = -(-n_in * up // down)
    work_dtype = np.float64 if x.dtype == np.float64 else np.float32
    y = np.empty(n_out, dtype=work_dtype)
    if n_out:
        branches = _polyphase_filter(up, down).astype(work_dtype)
        taps = branches.shape[1]
        half = _ZERO_CROSSINGS * max(up, down)
        # Output m sits at upsampled position m * down; with the filter centred there, it reads input samples
        # k0 - (taps - 1) .. k0 through branch p, where t = m * down + half, k0 = t // up and p = t % up.
        last_k0 = ((n_out - 1) * down + half) // up
        left = taps - 1
        right = max(0, last_k0 + 1 - n_in)
        padded = np.zeros(left + n_in + right, dtype=work_dtype)
        padded[left : left + n_in] = x
        windows = np.lib.stride_tricks.sliding_window_view(padded, taps)
        for start in range(0, n_out, _BLOCK):
            t = np.arange(start, min(start + _BLOCK, n_out), dtype=np.int64) * down + half
            k0, phase = np.divmod(t, up)
            y[start : start + len(t)] = np.einsum("ij,ij->i", windows[k0], branches[phase])
    if x.dtype == np.int16:
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)
    return y.astype(x.dtype, copy=False)
