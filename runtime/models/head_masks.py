"""Arbitrary-length head-mask streams from CRHMG, window after window, without seams or drift.

Each window is generated from a conditioning latent; its first frame reproduces the condition, so the frames
after the first continue the previous window. The next condition is the encoding of the window's last mask,
pulled a little toward the stream's first mask (`anchor`) so a 10-minute stream cannot wander off the frame.
The model is reached through two callables, so the same logic runs on PyTorch (training, evaluation) and on
an inference engine (the runtime).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EncodeFn = Callable[[np.ndarray], np.ndarray]  # masks (B, 1, H, W) float32 -> means (B, d)
GenerateFn = Callable[
    [np.ndarray, np.ndarray, np.ndarray], np.ndarray
]  # z1 (B, d), eta (B, N, d), eps (B,) -> masks (B, N, H, W)

#: Noise scales of the two roles: a speaker moves more than a listener.
DEFAULT_EPS = {"speak": 1.0, "listen": 0.7}


@dataclass
class MaskStreamState:
    """Where a stream is: the latent its next window starts from and the one it is anchored to."""

    condition: np.ndarray  # (d,)
    anchor: np.ndarray  # (d,)
    last_mask: np.ndarray  # (H, W)
    frames_emitted: int = 0


class HeadMaskGenerator:
    """Args:
    encode, generate: the model (see EncodeFn, GenerateFn).
    latent_dim: d.
    window: frames per generated window (at most the model's positional length).
    anchor: pull of each new condition toward the first mask's latent, in [0, 1].
    """

    def __init__(self, encode: EncodeFn, generate: GenerateFn, latent_dim: int, window: int = 32, anchor: float = 0.1):
        if window < 2:
            raise ValueError(f"window must be at least 2 frames, got {window}")
        if not 0.0 <= anchor <= 1.0:
            raise ValueError(f"anchor must lie in [0, 1], got {anchor}")
        self._encode, self._generate = encode, generate
        self.latent_dim, self.window, self.anchor = latent_dim, window, anchor

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
        out = []
        needed = frames
        while needed > 0:
            # The very first frame of a stream is the window's frame 0; later windows skip it (it repeats).
            skip = 0 if state.frames_emitted == 0 and not out else 1
            eta = rng.standard_normal((1, self.window, self.latent_dim)).astype(np.float32)
            masks = self._generate(state.condition[None], eta, np.array([eps], np.float32))[0]
            take = masks[skip : skip + needed]
            out.append(take)
            needed -= len(take)
            state.last_mask = masks[skip + len(take) - 1]
            encoded = self._encode(state.last_mask[None, None])[0]
            state.condition = (1.0 - self.anchor) * encoded + self.anchor * state.anchor
        state.frames_emitted += frames
        if not out:
            return np.zeros((0, *state.last_mask.shape), np.float32)
        return np.concatenate(out)
