"""A head pose from a head mask by image moments, so E_t can be placed inside a generated mask (CRHMG).

A silhouette fixes where the head is (centroid), how big (area) and how it is tilted (the principal axis),
which are tx, ty, scale and roll. Yaw and pitch barely change a silhouette and are returned as 0; callers that
know them (the motion model) keep their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.rig.face_rig import HeadPose

# The projection centre of the rig at tx = ty = 0, as fractions of the image (FaceRig.project).
CENTRE = (0.5, 0.47)
FULL_TRUST_ELONGATION = 0.15


@dataclass(frozen=True)
class MaskMoments:
    area: float  # pixels
    centroid: tuple[float, float]  # (x, y) pixels
    angle_deg: float  # principal axis from the image x axis, in (-90, 90]
    elongation: float = 1.0  # (l1 - l2) / (l1 + l2) of the second moments: 0 for a disc, which has no axis


def mask_moments(mask: np.ndarray) -> MaskMoments:
    given = np.asarray(mask)
    mask = given.astype(np.float64)
    if mask.ndim != 2:
        raise ValueError(f"a head mask is a 2D array, got shape {mask.shape}")
    # uint8 masks are 0..255; float masks are 0..1, and a generated one may exceed 1 by a rounding error, which
    # must not read as the 0..255 scale (that shrank the area 255 times and the head with it).
    if np.issubdtype(given.dtype, np.integer) or mask.max() > 1.5:
        mask = mask / 255.0
    mask = np.clip(mask, 0.0, 1.0)
    area = mask.sum()
    if area < 4:
        raise ValueError("the head mask is empty")
    ys, xs = np.mgrid[: mask.shape[0], : mask.shape[1]]
    cx, cy = (mask * xs).sum() / area, (mask * ys).sum() / area
    mu20 = (mask * (xs - cx) ** 2).sum() / area
    mu02 = (mask * (ys - cy) ** 2).sum() / area
    mu11 = (mask * (xs - cx) * (ys - cy)).sum() / area
    angle = 0.5 * np.degrees(np.arctan2(2 * mu11, mu20 - mu02))
    spread = np.hypot(mu20 - mu02, 2 * mu11)  # l1 - l2 of the moment matrix
    elongation = spread / max(mu20 + mu02, 1e-12)
    return MaskMoments(float(area), (float(cx), float(cy)), float(angle), float(elongation))


@dataclass(frozen=True)
class MaskReference:
    """An identity's neutral-pose mask moments at some image size, the yardstick for estimates."""

    moments: MaskMoments
    size: tuple[int, int]  # (width, height)

    @classmethod
    def from_mask(cls, neutral_mask: np.ndarray) -> MaskReference:
        height, width = np.asarray(neutral_mask).shape[:2]
        return cls(mask_moments(neutral_mask), (width, height))


def estimate_pose_from_mask(mask: np.ndarray, reference: MaskReference) -> HeadPose:
    """tx, ty, scale and roll of the head whose mask this is (yaw = pitch = 0). `mask` may be any size; it
    is measured in the reference's pixel units."""
    height, width = np.asarray(mask).shape[:2]
    observed = mask_moments(mask)
    ref = reference.moments
    ratio = reference.size[0] / width  # observed pixels -> reference pixels
    scale = float(np.sqrt(observed.area * ratio**2 / ref.area))
    # A head is taller than wide: its principal axis is near vertical, and the change of that axis is the roll.
    roll = observed.angle_deg - ref.angle_deg
    roll = (roll + 90.0) % 180.0 - 90.0
    # A nearly round silhouette (curly hair, a bun) has an ill-defined axis: a pixel's change swings it by tens of
    # degrees. Trust the axis in proportion to how elongated both masks are.
    roll *= float(np.clip(min(observed.elongation, ref.elongation) / FULL_TRUST_ELONGATION, 0.0, 1.0))
    rho = np.radians(roll)
    ref_w, ref_h = reference.size
    # the centroid's offset from the projection centre in the neutral pose, rotated and scaled as the head is
    offset = np.array(ref.centroid) - np.array([CENTRE[0] * ref_w, CENTRE[1] * ref_h])
    rotation = np.array([[np.cos(rho), -np.sin(rho)], [np.sin(rho), np.cos(rho)]])
    rotated = rotation @ offset
    centre = np.array(observed.centroid) * ratio - scale * rotated
    tx = centre[0] / ref_w - CENTRE[0]
    ty = centre[1] / ref_h - CENTRE[1]
    return HeadPose(0.0, 0.0, float(roll), float(tx), float(ty), scale)
