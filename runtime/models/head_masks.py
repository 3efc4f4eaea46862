"""Arbitrary-length head-mask streams from CRHMG, window after window, without seams or drift.

Each window is generated from a conditioning latent; its first frame reproduces the condition. A window's
last `overlap` frames are held back: the next window starts from the encoding of the frame before them, and its
first `overlap` frames are crossfaded with the held-back ones. Re-encoding a generated mask lands a little off
the trajectory, and the crossfade spreads that step over `overlap + 1` frames instead of one visible jump.
Each new condition is pulled a little toward the stream's first mask (`anchor`) so a 10-minute stream cannot
wander off the frame. Frames are buffered, so asking for them in pieces gives exactly the frames of one call.

Identity (`keep_identity`, on by default): CRHMG has no identity input, so its free masks drift toward the
training set's average outline (bo's curls became cyra's bun within seconds). What a stream emits is therefore the
character's own first mask, posed as CRHMG's mask is posed: moved to its centroid, scaled to its area and turned by
its axis (`pose_reference`). The generator's dynamics, its windows and conditions, run on its own masks unchanged;
only the silhouette is the character's. DESIGN.md section 12 says why this rather than a retrained generator.
The model is reached through two callables, so the same logic runs on PyTorch (training, evaluation) and on
an inference engine (the runtime).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eai_avatar.runtime.rig.mask_pose import FULL_TRUST_ELONGATION, MaskMoments, mask_moments

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
    reference: np.ndarray | None = None  # (H, W): the character's own silhouette, posed into every emitted frame
    reference_moments: MaskMoments | None = None


def pose_reference(reference: np.ndarray, moments: MaskMoments, posed_as: np.ndarray) -> np.ndarray:
    """`reference` (H, W) moved, scaled and turned so its centroid, area and principal axis are those of `posed_as`.

    The turn is trusted as `estimate_pose_from_mask` trusts it: in proportion to how elongated both outlines are (a
    round one has no axis to follow). Bilinear sampling; outside the reference is empty.
    """
    try:
        target = mask_moments(posed_as)
    except ValueError:  # an empty generated frame: keep the reference where it is
        return reference.astype(np.float32)
    scale = float(np.sqrt(target.area / moments.area))
    turn = (target.angle_deg - moments.angle_deg + 90.0) % 180.0 - 90.0
    turn *= float(np.clip(min(target.elongation, moments.elongation) / FULL_TRUST_ELONGATION, 0.0, 1.0))
    rho = np.radians(turn)
    height, width = reference.shape
    ys, xs = np.mgrid[:height, :width].astype(np.float64)
    dx, dy = xs - target.centroid[0], ys - target.centroid[1]
    # Each output pixel comes from the reference point that the pose (scale, then turn) carries onto it.
    cos, sin = np.cos(rho), np.sin(rho)
    source_x = moments.centroid[0] + (cos * dx + sin * dy) / scale
    source_y = moments.centroid[1] + (-sin * dx + cos * dy) / scale
    x0, y0 = np.floor(source_x).astype(int), np.floor(source_y).astype(int)
    fx, fy = source_x - x0, source_y - y0
    padded = np.pad(np.clip(reference, 0.0, 1.0).astype(np.float64), 1)  # a border of empty pixels

    def at(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return padded[np.clip(y + 1, 0, height + 1), np.clip(x + 1, 0, width + 1)]

    posed = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy) + at(y0 + 1, x0) * (1 - fx) * fy
             + at(y0 + 1, x0 + 1) * fx * fy)  # fmt: skip
    return posed.astype(np.float32)


class HeadMaskGenerator:
    """Args:
    encode, generate: the model (see EncodeFn, GenerateFn).
    latent_dim: d.
    window: frames per generated window (at most the model's positional length).
    anchor: pull of each new condition toward the first mask's latent, in [0, 1].
    overlap: frames crossfaded between consecutive windows.
    keep_identity: emit the stream's first mask posed as each generated mask (see the module docstring), not the
        generated mask itself.
    """

    def __init__(self, encode: EncodeFn, generate: GenerateFn, latent_dim: int, window: int = 32, anchor: float = 0.1,
                 overlap: int = 8, keep_identity: bool = True):  # fmt: skip
        if window < 2 * overlap + 2:
            raise ValueError(f"window must be at least 2 * overlap + 2 = {2 * overlap + 2} frames, got {window}")
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        if not 0.0 <= anchor <= 1.0:
            raise ValueError(f"anchor must lie in [0, 1], got {anchor}")
        self._encode, self._generate = encode, generate
        self.latent_dim, self.window, self.anchor, self.overlap = latent_dim, window, anchor, overlap
        self.keep_identity = keep_identity

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
        state = MaskStreamState(latent.copy(), latent.copy(), mask)
        if self.keep_identity and mask.sum() >= 4:  # an empty first mask has no outline to keep
            state.reference, state.reference_moments = mask, mask_moments(mask)
        return state

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
        if state.reference is not None:
            out = [pose_reference(state.reference, state.reference_moments, mask) for mask in out]
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
