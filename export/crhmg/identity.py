"""Does a head-mask stream keep its character? Its silhouettes against every character's own, pose aside.

Each mask is binarized on a canonical grid with its centroid at the centre and its area a fixed quarter of the grid
(`normalised_silhouette`: translation and scale removed; a turn is not, it changes the outline a viewer sees). A
frame keeps its identity when the normalised IoU with its own character's first mask is the highest among all the
characters' (`nearest own`), and the IoU itself says how close. Goals (issue 17): nearest own in >= 99 % of frames,
IoU with its own >= 0.95 at every frame of a 10-minute stream.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: The canonical grid, pixels a side; the silhouette fills a quarter of it.
CANONICAL = 64


def normalised_silhouette(mask: np.ndarray, size: int = CANONICAL) -> np.ndarray:
    """(size, size) bool: `mask` (H, W) in [0, 1] resampled so its centroid is the centre and its area size^2 / 4."""
    m = np.clip(np.asarray(mask, np.float64), 0.0, 1.0)
    height, width = m.shape
    area = m.sum()
    if area < 1:
        return np.zeros((size, size), bool)
    ys, xs = np.mgrid[:height, :width]
    cx, cy = (m * xs).sum() / area, (m * ys).sum() / area
    step = np.sqrt(area / (0.25 * size * size))  # mask pixels per canonical pixel
    gy, gx = np.mgrid[:size, :size] + 0.5 - size / 2
    sx, sy = cx + gx * step, cy + gy * step
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    padded = np.pad(m, 1)

    def at(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return padded[np.clip(y + 1, 0, height + 1), np.clip(x + 1, 0, width + 1)]

    value = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy) + at(y0 + 1, x0) * (1 - fx) * fy
             + at(y0 + 1, x0 + 1) * fx * fy)  # fmt: skip
    return value > 0.5


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def identity_of_stream(masks: np.ndarray, own: str, references: Mapping[str, np.ndarray]) -> dict:
    """How well the stream `masks` (T, H, W) of character `own` keeps its silhouette among `references` (name ->
    first mask): the share of frames nearest its own, and its IoU with its own (min, mean, and where the min fell)."""
    canonical = {name: normalised_silhouette(mask) for name, mask in references.items()}
    if own not in canonical:
        raise ValueError(f"no reference silhouette for {own!r}; references: {', '.join(canonical)}")
    nearest, with_own = [], []
    for mask in masks:
        silhouette = normalised_silhouette(mask)
        scores = {name: _iou(silhouette, reference) for name, reference in canonical.items()}
        with_own.append(scores[own])
        nearest.append(max(scores, key=scores.get) == own)
    with_own = np.array(with_own)
    closest_other = max((_iou(canonical[own], r) for n, r in canonical.items() if n != own), default=0.0)
    return {"frames": len(masks), "nearest_own": float(np.mean(nearest)), "iou_own_min": float(with_own.min()),
            "iou_own_mean": float(with_own.mean()), "iou_own_min_at_s": float(np.argmin(with_own) / 25),
            "closest_other_reference_iou": closest_other}  # fmt: skip


def character_first_masks(mask_size: int) -> dict[str, np.ndarray]:
    """Every studio character's neutral head mask at `mask_size`, as the bundle's first masks are made."""
    from eai_avatar.export.crhmg.data import downsample
    from eai_avatar.export.studio.characters import CHARACTERS, CharacterRenderer
    from eai_avatar.runtime.rig import RigState

    return {name: downsample(CharacterRenderer(style).render(RigState.from_dict({})).mask[None], mask_size)[0]
            for name, style in CHARACTERS.items()}  # fmt: skip
