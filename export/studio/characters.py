"""Procedural characters built on the face rig: for any rig state, an anti-aliased RGB frame, the head mask
(head + hair silhouette) and the facial-motion image E_t, all drawn from the same projected landmarks so they
agree with each other. Deterministic: a character and a rig state give the same pixels every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eai_avatar.runtime.rig import FaceRig, RigParams, RigState, draw_motion_image
from eai_avatar.runtime.rig.canvas import Canvas
from eai_avatar.runtime.rig.face_rig import EYE_Y, on_head

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class CharacterStyle:
    """How a character looks. Colours are RGB 0-255."""

    name: str
    display_name: str
    skin: RGB
    hair: RGB
    hair_style: str  # "short", "long", "bun", "curly", "buzz"
    eyes: RGB
    clothing: RGB
    background: RGB
    lips: RGB
    rig: RigParams = field(default_factory=RigParams)
    voice: str = "en-us"

    def __post_init__(self):
        if self.hair_style not in HAIR_STYLES:
            raise ValueError(f"hair_style must be one of {HAIR_STYLES}, got {self.hair_style!r}")


HAIR_STYLES = ("short", "long", "bun", "curly", "buzz")

CHARACTERS: dict[str, CharacterStyle] = {
    style.name: style
    for style in (
        CharacterStyle("ada", "Ada", skin=(241, 200, 170), hair=(140, 62, 30), hair_style="long", eyes=(70, 130, 80),
                       clothing=(30, 128, 128), background=(206, 214, 224), lips=(196, 104, 104),
                       rig=RigParams(face_width=0.94, jaw_width=0.72, eye_size=1.08, lip_thickness=1.1),
                       voice="en-us+f3"),
        CharacterStyle("bo", "Bo", skin=(120, 78, 52), hair=(25, 20, 18), hair_style="curly", eyes=(60, 40, 25),
                       clothing=(214, 160, 40), background=(222, 210, 190), lips=(110, 60, 55),
                       rig=RigParams(face_width=1.06, jaw_width=0.86, nose_width=1.25, mouth_width=1.08,
                                     brow_thickness=1.3), voice="en-us"),
        CharacterStyle("cyra", "Cyra", skin=(198, 150, 110), hair=(30, 26, 30), hair_style="bun", eyes=(90, 60, 30),
                       clothing=(178, 40, 50), background=(200, 220, 205), lips=(170, 80, 85),
                       rig=RigParams(face_length=1.06, jaw_width=0.7, eye_spacing=0.95, nose_length=1.1),
                       voice="en+f4"),
        CharacterStyle("dev", "Dev", skin=(225, 180, 145), hair=(95, 65, 40), hair_style="short", eyes=(70, 110, 170),
                       clothing=(40, 50, 100), background=(230, 220, 215), lips=(180, 110, 100),
                       rig=RigParams(face_width=1.02, jaw_width=0.9, chin_length=1.1, brow_height=0.9,
                                     brow_thickness=1.2), voice="en-gb-x-rp+m5"),
        CharacterStyle("eli", "Eli", skin=(88, 58, 42), hair=(70, 70, 72), hair_style="buzz", eyes=(45, 30, 20),
                       clothing=(110, 60, 140), background=(210, 205, 225), lips=(95, 55, 50),
                       rig=RigParams(face_width=1.0, face_length=1.08, jaw_width=0.84, eye_size=0.95),
                       voice="en+klatt4"),
    )
}  # fmt: skip


def character(name: str) -> CharacterStyle:
    try:
        return CHARACTERS[name]
    except KeyError:
        raise ValueError(f"unknown character {name!r}; the studio has {', '.join(CHARACTERS)}") from None


def _shade(colour: RGB, factor: float) -> RGB:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


def _hair_outline(style: str, rig: FaceRig) -> tuple[np.ndarray, np.ndarray | None]:
    """(front, back) hair polygons in head coordinates (z toward the viewer); back is drawn behind the head."""
    p = rig.params
    w, length = 1.06 * p.face_width, 1.25 * p.face_length
    # One simple polygon: the cap over the top (outer edge), down the sideburns, back along the hairline.
    t = np.linspace(np.pi, 0.0, 40)
    bump = 0.06 * np.sin(t * 14) if style == "curly" else 0.0
    volume = {"short": 1.1, "long": 1.12, "bun": 1.06, "curly": 1.2, "buzz": 1.03}[style]
    cap = np.stack([np.cos(t) * w * (volume + bump), -np.sin(t) * length * (volume + bump) - 0.05], axis=1)
    hairline_depth = {"short": -0.55, "long": -0.5, "bun": -0.62, "curly": -0.5, "buzz": -0.7}[style]
    sideburn_y = EYE_Y - 0.02
    xs = np.linspace(w * 0.9, -w * 0.9, 25)
    hairline = np.stack([xs, hairline_depth * length + 0.3 * (np.abs(xs) / w) ** 2 * length], axis=1)
    front = np.concatenate([
        cap,
        [[w * volume, sideburn_y], [w * 0.93, sideburn_y]],
        hairline,
        [[-w * 0.93, sideburn_y], [-w * volume, sideburn_y]],
    ])  # fmt: skip
    # On the same head surface as the face oval, so hair and face turn together.
    front3 = on_head(front, depth=0.25)
    back = None
    if style == "long":
        tt = np.linspace(0, np.pi, 30)
        back = np.stack([np.cos(tt) * w * 1.25, np.sin(tt) * 0.5 + 1.55 * length * 0.85, np.zeros(30)], axis=1)
        back = np.concatenate([back, [[-w * 1.15, -0.4, 0.0], [0.0, -length * 1.12, 0.0], [w * 1.15, -0.4, 0.0]]])
    elif style == "bun":
        tt = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        back = np.stack([0.42 * np.cos(tt), -length * 1.22 + 0.38 * np.sin(tt), np.full(24, -0.1)], axis=1)
    return front3, back


@dataclass
class CharacterFrame:
    rgb: np.ndarray  # (h, w, 3) uint8
    mask: np.ndarray  # (h, w) uint8, 255 inside the head + hair silhouette
    motion: np.ndarray  # (h, w, 3) uint8, E_t


class CharacterRenderer:
    """Renders one character. `render(state, size)` -> CharacterFrame; sizes 64..1024 (128, 256, 512 typical)."""

    def __init__(self, style: CharacterStyle, supersample: int = 2):
        self.style = style
        self.rig = FaceRig(style.rig)
        self.supersample = supersample
        self._hair_front, self._hair_back = _hair_outline(style.hair_style, self.rig)

    def render(self, state: RigState, size: tuple[int, int] = (256, 256)) -> CharacterFrame:
        style, rig = self.style, self.rig
        width, height = size
        pose = state.pose
        landmarks = rig.image_landmarks(state, size)
        unit = rig.params.framing * width * pose.scale  # pixels per head unit

        def part(name):
            return rig.contour(name, landmarks)

        def head_points(points3):
            return rig.project(points3, pose, size)

        canvas = Canvas(size, "RGB", style.background, self.supersample)
        mask = Canvas(size, "L", 0, self.supersample)
        # Body: neck and shoulders follow the head's translation, not its rotation.
        cx, cy = width * (0.5 + pose.tx), height * (0.47 + pose.ty)
        shoulders = np.array([[-2.6, 3.6], [-2.4, 2.35], [-0.9, 1.95], [0.9, 1.95], [2.4, 2.35], [2.6, 3.6]]) * unit
        canvas.polygon(shoulders + [cx, cy], style.clothing)
        neck = np.array([[-0.45, 0.6], [0.45, 0.6], [0.5, 2.1], [-0.5, 2.1]]) * unit + [cx, cy]
        canvas.polygon(neck, _shade(style.skin, 0.8))
        collar = np.array([[-0.9, 1.95], [0.0, 2.35], [0.9, 1.95]]) * unit + [cx, cy]
        canvas.polygon(collar, _shade(style.clothing, 0.75))
        if self._hair_back is not None:
            back = head_points(self._hair_back)
            canvas.polygon(back, _shade(style.hair, 0.85))
            mask.polygon(back, 255)
        # Head: skin with a darker rim for roundness, ears, then features.
        oval = part("face_oval")
        for side in (-1.0, 1.0):
            ear = head_points(np.array([[side * 1.02, EYE_Y + dy, -0.1] for dy in (-0.05, 0.1, 0.3, 0.42)]))
            canvas.ellipse(ear.mean(axis=0), (0.16 * unit, 0.26 * unit), _shade(style.skin, 0.85))
            mask.ellipse(ear.mean(axis=0), (0.16 * unit, 0.26 * unit), 255)
        canvas.polygon(oval, _shade(style.skin, 0.82))
        inner = oval.mean(axis=0) + (oval - oval.mean(axis=0)) * 0.88
        shading = Canvas(size, "RGB", (0, 0, 0), self.supersample)
        shading.polygon(inner, style.skin)
        soft = Canvas(size, "L", 0, self.supersample)
        soft.polygon(inner, 255)
        soft.blur(0.12 * unit)
        canvas.paste(shading, soft)
        mask.polygon(oval, 255)
        # Cheeks.
        for side in ("left", "right"):
            eye = part(f"eye_{side}")
            blush = Canvas(size, "L", 0, self.supersample)
            blush.ellipse(eye.mean(axis=0) + [0, 0.38 * unit], (0.2 * unit, 0.12 * unit), 70)
            blush.blur(0.08 * unit)
            tint = Canvas(size, "RGB", _shade(style.lips, 1.05), self.supersample)
            canvas.paste(tint, blush)
        self._draw_eyes(canvas, part, unit, size)
        # Brows: thick strokes along the brow line.
        for side in ("left", "right"):
            canvas.polyline(part(f"brow_{side}"), _shade(style.hair, 0.9), 0.07 * unit * rig.params.brow_thickness)
        # Nose: a soft shadow under the base, nostrils, a faint bridge.
        base = part("nose_base")
        canvas.polyline(part("nose_bridge")[1:], _shade(style.skin, 0.9), 0.03 * unit)
        canvas.polyline(base, _shade(style.skin, 0.6), 0.045 * unit)
        for end in (base[1], base[-2]):
            canvas.ellipse(end + [0, -0.02 * unit], (0.035 * unit, 0.022 * unit), _shade(style.skin, 0.45))
        self._draw_mouth(canvas, part, unit, size, state)
        # Hair in front of the forehead.
        front = head_points(self._hair_front)
        canvas.polygon(front, style.hair)
        mask.polygon(front, 255)
        motion = draw_motion_image(rig, state, size)
        return CharacterFrame(canvas.result(), mask.result(), motion)

    def _draw_eyes(self, canvas: Canvas, part, unit: float, size) -> None:
        style = self.style
        for side in ("left", "right"):
            eye = part(f"eye_{side}")
            iris = part(f"iris_{side}")
            opening = Canvas(size, "L", 0, self.supersample)
            opening.polygon(eye, 255)
            eyeball = Canvas(size, "RGB", (245, 245, 240), self.supersample)
            centre, radius = iris.mean(axis=0), np.linalg.norm(iris - iris.mean(axis=0), axis=1).mean()
            eyeball.ellipse(centre, (radius, radius), style.eyes)
            eyeball.ellipse(centre, (radius * 0.45, radius * 0.45), (15, 12, 10))
            eyeball.ellipse(centre + [-radius * 0.3, -radius * 0.35], (radius * 0.18, radius * 0.18), (255, 255, 255))
            canvas.paste(eyeball, opening)
            upper = eye[:9]
            canvas.polyline(upper, (35, 25, 20), 0.035 * unit)  # lid line and lashes
            canvas.polyline(eye[8:].tolist() + [eye[0].tolist()], _shade(style.skin, 0.7), 0.012 * unit)

    def _draw_mouth(self, canvas: Canvas, part, unit: float, size, state: RigState) -> None:
        style = self.style
        outer, inner = part("lips_outer"), part("lips_inner")
        canvas.polygon(outer, style.lips)
        opening = Canvas(size, "L", 0, self.supersample)
        opening.polygon(inner, 255)
        interior = Canvas(size, "RGB", (70, 20, 25), self.supersample)
        top = inner[:7]
        width = np.ptp(top[:, 0])
        # Upper teeth hang from the inner upper lip; the tongue rests low in the mouth.
        teeth = np.concatenate([top, top[::-1] + [0, 0.09 * unit]])
        interior.polygon(teeth, (240, 238, 228))
        bottom = inner[7:].mean(axis=0) if len(inner) > 7 else top.mean(axis=0)
        tongue_out = state.weight("tongueOut")
        tongue_centre = bottom + [0, -0.02 * unit + 0.1 * unit * tongue_out]
        interior.ellipse(tongue_centre, (width * 0.32, 0.07 * unit), (200, 90, 100))
        canvas.paste(interior, opening)
        canvas.polyline(inner, _shade(style.lips, 0.6), 0.015 * unit, closed=True)


def render_contact_sheet(size: int = 128) -> np.ndarray:
    """Characters (rows) x 8 emotions (listening faces), plus a row of mouth shapes, as one uint8 RGB image.
    Cells are cropped to the head so the expressions read at a glance."""
    from eai_avatar.runtime.motion.expressions import emotion_offsets
    from eai_avatar.runtime.rig import HeadPose
    from eai_avatar.vocabulary import BLENDSHAPE_INDEX, EMOTIONS

    render_size = int(size * 1.6)  # rendered larger, then cropped to the central size x size
    top, left = int(render_size * 0.12), (render_size - size) // 2

    def cell(renderer, state):
        return renderer.render(state, (render_size, render_size)).rgb[top : top + size, left : left + size]

    rows = []
    for style in CHARACTERS.values():
        renderer = CharacterRenderer(style)
        row = [cell(renderer, RigState(emotion_offsets(e, "listen"), HeadPose())) for e in EMOTIONS]
        rows.append(np.concatenate(row, axis=1))
    renderer = CharacterRenderer(next(iter(CHARACTERS.values())))
    mouth_shapes = [{}, {"jawOpen": 0.3}, {"jawOpen": 0.8}, {"mouthFunnel": 0.8, "jawOpen": 0.3}, {"mouthPucker": 1.0},
                    {"mouthStretchLeft": 0.8, "mouthStretchRight": 0.8, "jawOpen": 0.2}, {"mouthClose": 0.5,
                    "mouthPressLeft": 0.8, "mouthPressRight": 0.8}, {"jawOpen": 0.5, "tongueOut": 1.0}]  # fmt: skip
    row = []
    for shape in mouth_shapes:
        weights = np.zeros(52, np.float32)
        for name, value in shape.items():
            weights[BLENDSHAPE_INDEX[name]] = value
        row.append(cell(renderer, RigState(weights)))
    rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)
