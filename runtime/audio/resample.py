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


def _check_rate(label: str, rate) -> int:
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer) or rate <= 0:
        raise ValueError(f"{label} must be a positive integer in Hz, got {rate!r}")
    return int(rate)


class StreamingResampler:
    """`resample` for audio that arrives in pieces: every piece's output as soon as the filter has the input it
    needs (a few milliseconds of lookahead), and, joined with `finish()`, exactly what `resample` gives for the
    whole signal, however it was split.

    Output sample m sits at upsampled position m * down; with the filter centred there it reads input samples
    k0 - (taps - 1) .. k0 through branch p, where t = m * down + half, k0 = t // up and p = t % up. A sample is
    made once k0 has arrived (or, at `finish`, with zeros past the end); input no later sample reads is dropped.
    """

    def __init__(self, from_rate: int, to_rate: int, dtype=np.float32):
        self.from_rate, self.to_rate = _check_rate("from_rate", from_rate), _check_rate("to_rate", to_rate)
        g = math.gcd(self.from_rate, self.to_rate)
        self.up, self.down = self.to_rate // g, self.from_rate // g
        self.dtype = np.dtype(dtype)
        self._branches = _polyphase_filter(self.up, self.down).astype(self.dtype) if self.up != self.down else None
        self._taps = 1 if self._branches is None else self._branches.shape[1]
        self._half = _ZERO_CROSSINGS * max(self.up, self.down)
        # Input kept, with `taps - 1` zeros in front standing for the silence before the signal.
        self._buffer = np.zeros(self._taps - 1, self.dtype)
        self._buffer_start = -(self._taps - 1)  # input index of _buffer[0]
        self._received = 0  # input samples so far
        self._made = 0  # output samples so far
        self._finished = False

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The output that `samples` (and what came before) completes."""
        if self._finished:
            raise ValueError("this resampler has finished; make a new one for the next signal")
        x = np.asarray(samples, dtype=self.dtype)
        if x.ndim != 1:
            raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
        self._buffer = np.concatenate([self._buffer, x])
        self._received += len(x)
        if self._branches is None:
            return self._take(len(x))
        # Sample m is ready when k0 = (m * down + half) // up < received.
        ready = max(0, -(-(self._received * self.up - self._half) // self.down))
        return self._take(ready - self._made)

    def finish(self) -> np.ndarray:
        """The rest: samples up to ceil(n * to_rate / from_rate), reading zeros past the end."""
        if self._finished:
            return np.zeros(0, self.dtype)
        self._finished = True
        total = -(-self._received * self.up // self.down)
        if self._branches is not None:
            self._buffer = np.concatenate([self._buffer, np.zeros(self._half // self.up + 2, self.dtype)])
        return self._take(total - self._made)

    def _take(self, count: int) -> np.ndarray:
        if count <= 0:
            return np.zeros(0, self.dtype)
        if self._branches is None:
            out = self._buffer[self._made - self._buffer_start : self._made - self._buffer_start + count].copy()
        else:
            t = np.arange(self._made, self._made + count, dtype=np.int64) * self.down + self._half
            k0, phase = np.divmod(t, self.up)
            windows = np.lib.stride_tricks.sliding_window_view(self._buffer, self._taps)
            out = np.einsum("ij,ij->i", windows[k0 - self._buffer_start - (self._taps - 1)], self._branches[phase])
        self._made += count
        self._drop_consumed()
        return out.astype(self.dtype, copy=False)

    def _drop_consumed(self) -> None:
        # The next sample reads from k0(next) - (taps - 1) on; everything before it is done with.
        if self._branches is None:
            first_needed = self._made
        else:
            first_needed = (self._made * self.down + self._half) // self.up - (self._taps - 1)
        drop = min(first_needed - self._buffer_start, len(self._buffer))
        if drop > 4096:  # not every call: a copy per few thousand samples
            self._buffer = self._buffer[drop:].copy()
            self._buffer_start += drop


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
    from_rate, to_rate = _check_rate("from_rate", from_rate), _check_rate("to_rate", to_rate)
    if from_rate == to_rate:
        return x.copy()
    resampler = StreamingResampler(from_rate, to_rate, np.float64 if x.dtype == np.float64 else np.float32)
    y = np.concatenate([resampler.push(x), resampler.finish()])
    if x.dtype == np.int16:
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)
    return y.astype(x.dtype, copy=False)
