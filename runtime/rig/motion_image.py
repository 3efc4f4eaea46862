"""The facial-motion image E_t (paper section 3.5): the rig's contours drawn part by part in fixed colours
on black, the renderer's local conditioning signal. Colours are constants so that every identity, training
and inference draw the same code."""

from __future__ import annotations

import numpy as np

from eai_avatar.runtime.rig.canvas import Canvas
from eai_avatar.runtime.rig.face_rig import FaceRig, RigState

# Part -> (contours, RGB colour, closed)
PART_COLOURS: dict[str, tuple[tuple[str, ...], tuple[int, int, int], bool]] = {
    "face_oval": (("face_oval",), (255, 255, 255), True),
    "brows": (("brow_left", "brow_right"), (255, 200, 0), False),
    "eyes": (("eye_left", "eye_right"), (0, 255, 0), True),
    "irises": (("iris_left", "iris_right"), (0, 200, 255), True),
    "nose": (("nose_bridge", "nose_base"), (60, 120, 255), False),
    "lips_outer": (("lips_outer",), (255, 40, 40), True),
    "lips_inner": (("lips_inner",), (255, 0, 255), True),
}


def draw_motion_image(rig: FaceRig, state: RigState, size: tuple[int, int] = (256, 256)) -> np.ndarray:
    """E_t for `state` as uint8 (h, w, 3). Lines are about 1 pixel wide per 128 pixels of width."""
    landmarks = rig.image_landmarks(state, size)
    canvas = Canvas(size, "RGB", (0, 0, 0), supersample=2)
    width = max(1.0, size[0] / 128)
    for contours, colour, closed in PART_COLOURS.values():
        for name in contours:
            canvas.polyline(rig.contour(name, landmarks), colour, width, closed=closed)
    return canvas.result()
