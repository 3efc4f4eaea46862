"""Arbitrary-length head-mask streams from CRHMG, window after window, without seams or drift.

Each window is generated from a conditioning latent; its first frame reproduces the condition. A window's
last `overlap` frames are held back: the next window starts from the encoding of the frame before them, and its
first `overlap` frames are crossfaded with the held-back ones. Re-encoding a generated mask lands a little off
the trajectory, and the crossfade spreads that step over `overlap + 1` frames instead of one visible jump.
Each new condition is pulled a little toward the stream's first mask (`anchor`) so a 10-minute stream cannot
wander off the frame. Frames are buffered, so asking for them in pieces gives exactly the frames of one call.
The model is reached through two callables, so the same logic runs on PyTorch (training, evaluation) and on
an inference engine (the runtime).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

EncodeFn = Callable[[np.ndarray], np.ndarray]  # masks (B, 1, H, W) float32 -> means (B, d)
GenerateFn = Callable[
    [np.ndarray, np.ndarray, np.ndarray], np.ndarray
]  # z1 (B, d), eta (B, N, d), eps (B,) -> masks (B, N, H, W)

#: Noise scales of the two roles: a speaker moves more than a listener.
DEFAULT_EPS = {"speak": 1.0, "listen": 0.7}


@dataclass
class MaskStreamState:
    """Where a stream is: the latent its next window starts from, the one it is anchored to, frames generated
    but not yet emitted, and the held-back end of the last window (crossfaded into the next)."""

    condition: np.ndarray  # (d,)
    anchor: np.ndarray  # (d,)
    last_mask: np.ndarray  # (H, W): the last frame emitted
    ready: list = field(default_factory=list)  # final frames (H, W) not yet emitted
    tail: np.ndarray | None = None  # (overlap, H, W), None before the first window
    frames_emitted: int = 0


class HeadMaskGenerator:
    """Args:
    encode, generate: the model (see EncodeFn, GenerateFn).
    latent_dim: d.
    window: frames per generated window (at most the model's positional length).
    anchor: pull of each new condition toward the first mask's latent, in [0, 1].
    overlap: frames crossfaded between consecutive windows.
    """

    def __init__(self, encode: EncodeFn, generate: GenerateFn, latent_dim: int, window: int = 32, anchor: float = 0.1,
                 overlap: int = 8):  # fmt: skip
        if window < 2 * overlap + 2:
            raise ValueError(f"window must be at least 2 * overlap + 2 = {2 * overlap + 2} frames, got {window}")
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        if not 0.0 <= anchor <= 1.0:
            raise ValueError(f"anchor must lie in [0, 1], got {anchor}")
        self._encode, self._generate = encode, generate
        self.latent_dim, self.window, self.anchor, self.overlap = latent_dim, window, anchor, overlap

    @property
    def step(self) -> int:
        """New frames per window after the first (which gives `window - overlap`)."""
        return self.window - self.overlap - 1

    def start(self, first_mask: np.ndarray) -> MaskStreamState:
        """Begin a stream at `first_mask` (H, W) in [0, 1]."""
        mask = np.asarray(first_mask, dtype=np.float32)
        if mask.ndim != 2 or not np.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
            raise ValueError(f"a first mask is one (H, W) array in [0, 1], got shape {mask.shape}")
        latent = self._encode(mask[None, None])[0]
        return MaskStreamState(latent.copy(), latent.copy(), mask)

    def next(self, state: MaskStreamState, frames: int, eps: float, rng: np.random.Generator) -> np.ndarray:
        """The stream's next `frames` masks (frames, H, W); `state` moves on."""
        if frames < 0:
            raise ValueError(f"frames must be >= 0, got {frames}")
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"eps must lie in [0, 1], got {eps}")
        while len(state.ready) < frames:
            self._window(state, eps, rng)
        out, state.ready = state.ready[:frames], state.ready[frames:]
        state.frames_emitted += frames
        if not out:
            return np.zeros((0, *state.last_mask.shape), np.float32)
        state.last_mask = out[-1]
        return np.stack(out)

    def _window(self, state: MaskStreamState, eps: float, rng: np.random.Generator) -> None:
        eta = rng.standard_normal((1, self.window, self.latent_dim)).astype(np.float32)
        masks = self._generate(state.condition[None], eta, np.array([eps], np.float32))[0]
        keep = self.window - self.overlap  # frames 0 .. keep - 1 are final; the rest is the tail
        if state.tail is None:
            final = list(masks[:keep])
        else:
            # Frame 0 is the condition frame, emitted already; frames 1..overlap meet the old tail.
            weights = np.arange(1, self.overlap + 1, dtype=np.float32) / (self.overlap + 1)
            blended = (1.0 - weights[:, None, None]) * state.tail + weights[:, None, None] * masks[1 : self.overlap + 1]
            final = list(blended) + list(masks[self.overlap + 1 : keep])
        state.ready.extend(final)
        state.tail = masks[keep:]
        encoded = self._encode(masks[keep - 1][None, None])[0]
        state.condition = (1.0 - self.anchor) * encoded + self.anchor * state.anchor
