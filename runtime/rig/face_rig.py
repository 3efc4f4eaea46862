"""A landmark face rig: named 3D contours, a linear blendshape basis under ARKit names, and a head pose.

Coordinates of the canonical face: x to the image's right (the character's left), y down, z toward the
viewer; the head's half-width is 1. "Left" blendshapes act on the character's left, which is +x. Each
blendshape is a displacement field on the landmarks, so a rig state's landmarks are
`neutral + sum_i w_i * delta_i`: a true blendshape rig, and fitting weights to landmarks is linear.

Projection is weak perspective: rotate by (yaw, pitch, roll) about the head centre, then scale and translate
into the image. Yaw > 0 turns the face toward the character's left (+x), pitch > 0 looks up, roll > 0 tilts
the top of the head toward the character's left shoulder (the v1 proto's HeadPose convention).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX

# The blendshapes this rig moves (the rest of the 52 are accepted and ignored).
RIG_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "eyeLookUpLeft", "eyeLookUpRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight",
    "jawOpen", "jawLeft", "jawRight", "jawForward",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip

# Feature heights of the canonical face (y down; the oval spans about -1.25..1.3).
EYE_Y = -0.05
MOUTH_Y = 0.72
POSE_FIELDS = ("yaw_deg", "pitch_deg", "roll_deg", "tx", "ty", "scale")


@dataclass(frozen=True)
class RigParams:
    """An identity's face shape (all relative to the canonical face; 1.0 = canonical). Stored per identity as JSON."""

    face_width: float = 1.0  # cheekbone half-width
    face_length: float = 1.0  # forehead to chin
    jaw_width: float = 0.78  # jaw half-width at the mouth line, relative to the cheekbones
    chin_length: float = 1.0
    eye_spacing: float = 1.0  # distance between the eyes' centres
    eye_size: float = 1.0
    brow_height: float = 1.0  # brow distance above the eyes
    brow_thickness: float = 1.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    mouth_width: float = 1.0
    lip_thickness: float = 1.0
    framing: float = 0.22  # head half-width as a fraction of the image width at scale 1

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = (0.1, 0.4) if f.name == "framing" else (0.5, 1.6)
            if not isinstance(value, int | float) or not low <= value <= high:
                raise ValueError(f"rig parameter {f.name} must lie in [{low}, {high}], got {value!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RigParams:
        data = json.loads(text)
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown rig parameters {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> RigParams:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"rig parameters not found: {path}")
        return cls.from_json(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    tx: float = 0.0  # fraction of the image width, + right
    ty: float = 0.0  # fraction of the image height, + down
    scale: float = 1.0

    def as_array(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in POSE_FIELDS], dtype=np.float32)

    @classmethod
    def from_array(cls, values) -> HeadPose:
        values = [float(v) for v in values]
        if len(values) != 6 or not all(np.isfinite(values)):
            raise ValueError(f"a head pose is 6 finite numbers {POSE_FIELDS}, got {values}")
        return cls(*values)


@dataclass
class RigState:
    """Blendshape weights (52, ARKit order, each in [0, 1]) and a head pose."""

    weights: np.ndarray = field(default_factory=lambda: np.zeros(len(ARKIT_BLENDSHAPES), np.float32))
    pose: HeadPose = field(default_factory=HeadPose)

    def __post_init__(self):
        weights = np.asarray(self.weights, dtype=np.float32)
        if weights.shape != (len(ARKIT_BLENDSHAPES),):
            raise ValueError(f"weights must have one value per ARKit blendshape (52), got shape {weights.shape}")
        if not np.all(np.isfinite(weights)):
            raise ValueError("blendshape weights must be finite")
        self.weights = np.clip(weights, 0.0, 1.0)

    @classmethod
    def from_dict(cls, weights: dict[str, float], pose: HeadPose | None = None) -> RigState:
        vector = np.zeros(len(ARKIT_BLENDSHAPES), np.float32)
        for name, value in weights.items():
            if name not in BLENDSHAPE_INDEX:
                raise ValueError(f"unknown ARKit blendshape {name!r}")
            vector[BLENDSHAPE_INDEX[name]] = value
        return cls(vector, pose or HeadPose())

    def weight(self, name: str) -> float:
        return float(self.weights[BLENDSHAPE_INDEX[name]])


def _cos_profile(xs: np.ndarray, centre: float, half: float, power: float = 1.0) -> np.ndarray:
    """cos(pi/2 * distance / half) ** power, clipped at 0: 1 at the centre, 0 at the corners (no NaN)."""
    return np.clip(np.cos((xs - centre) / half * np.pi / 2), 0.0, 1.0) ** power


def _arc(x0, x1, y_of_x, count) -> np.ndarray:
    xs = np.linspace(x0, x1, count)
    return np.stack([xs, y_of_x(xs)], axis=1)


def on_head(points2d: np.ndarray, depth: float = 0.55, bulge: float = 1.0) -> np.ndarray:
    """Lift 2D front-view points onto an ellipsoidal head surface (z toward the viewer)."""
    x, y = points2d[:, 0], points2d[:, 1]
    z = depth * np.sqrt(np.clip(1.0 - (x / 1.15) ** 2 - (y / 1.6) ** 2, 0.0, None)) * bulge
    return np.stack([x, y, z], axis=1)


class FaceRig:
    """Landmarks for a rig state. Contours are slices of one (n, 3) array; `contour(name)` names them.

    Args:
        params: the identity's face shape.
    """

    # Contours in drawing order; closed ones are polygons, open ones polylines.
    CLOSED = ("face_oval", "eye_left", "eye_right", "lips_outer", "lips_inner", "iris_left", "iris_right")

    def __init__(self, params: RigParams = RigParams()):
        self.params = params
        contours = self._neutral_contours(params)
        self.names = tuple(contours)
        self.slices: dict[str, slice] = {}
        start = 0
        for name, points in contours.items():
            self.slices[name] = slice(start, start + len(points))
            start += len(points)
        self.neutral = np.concatenate(list(contours.values())).astype(np.float32)
        self.basis = self._blendshape_basis()  # (52, n, 3)

    # ------------------------------------------------------------------ geometry

    @staticmethod
    def _neutral_contours(p: RigParams) -> dict[str, np.ndarray]:
        w, length = p.face_width, p.face_length
        contours: dict[str, np.ndarray] = {}
        # Face oval: cheekbones at y = -0.1, forehead top at -1.25, chin at +1.25 (scaled); the jaw narrows.
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        x = np.sin(t)
        y = -np.cos(t)
        upper = y < 0
        half_width = np.where(upper, w * np.sqrt(np.clip(1 - (y * 0.35) ** 2, 0, 1)), 0.0)
        lower_w = w * (p.jaw_width + (1 - p.jaw_width) * np.clip(1 - y, 0, 1) ** 1.5)
        half_width = np.where(upper, half_width, lower_w * np.sqrt(np.clip(1 - y**4, 0, 1)) + 0.02)
        oval_y = np.where(upper, y * 1.25 * length, y * 1.2 * length * p.chin_length) - 0.1 * (~upper)
        oval = np.stack([x / np.maximum(np.abs(x), 1e-9) * half_width * np.abs(x) ** 0.6, oval_y], axis=1)
        contours["face_oval"] = on_head(oval, depth=0.25)
        eye_y, eye_cx = EYE_Y, 0.4 * p.eye_spacing
        eye_half, eye_open = 0.21 * p.eye_size, 0.085 * p.eye_size
        for side, sign in (("left", 1.0), ("right", -1.0)):
            cx = sign * eye_cx
            upper_lid = _arc(cx - eye_half, cx + eye_half, lambda xs, cx=cx: eye_y - eye_open * _cos_profile(
                xs, cx, eye_half, 0.8), 9)  # fmt: skip
            lower_lid = _arc(cx + eye_half, cx - eye_half, lambda xs, cx=cx: eye_y + 0.6 * eye_open * _cos_profile(
                xs, cx, eye_half), 9)[1:-1]  # fmt: skip
            contours[f"eye_{side}"] = on_head(np.concatenate([upper_lid, lower_lid]), bulge=1.05)
            angle = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            iris_r = 0.08 * p.eye_size
            iris = np.stack([cx + iris_r * np.cos(angle), eye_y - 0.01 + iris_r * np.sin(angle)], 1)
            contours[f"iris_{side}"] = on_head(iris, bulge=1.08)
            brow_y = eye_y - 0.22 * p.brow_height
            brow = _arc(
                cx - sign * 0.22, cx + sign * 0.26, lambda xs, cx=cx, by=brow_y: by - 0.05 * np.cos((xs - cx) * 3.5), 6
            )
            contours[f"brow_{side}"] = on_head(brow, bulge=1.05)
        nose_len, nose_w = 0.42 * p.nose_length, 0.15 * p.nose_width
        bridge = np.stack([np.zeros(5), np.linspace(EYE_Y + 0.02, EYE_Y + 0.02 + nose_len, 5)], axis=1)
        contours["nose_bridge"] = on_head(bridge, bulge=1.0) + np.array([0, 0, 0.0]) + np.array(
            [[0, 0, 0.05 * i] for i in range(5)])  # fmt: skip
        tip_y = EYE_Y + 0.02 + nose_len
        nose_base = _arc(-nose_w, nose_w, lambda xs: tip_y + 0.03 - 0.04 * _cos_profile(xs, 0.0, nose_w), 7)
        contours["nose_base"] = on_head(nose_base, bulge=1.25)
        mouth_y, mouth_half, lip = MOUTH_Y * p.face_length, 0.3 * p.mouth_width, 0.06 * p.lip_thickness
        cupid = lambda xs: mouth_y - lip * (1.0 - 0.35 * np.exp(-((xs / 0.06) ** 2))) * _cos_profile(  # noqa: E731
            xs, 0.0, mouth_half, 0.7)  # fmt: skip
        outer_upper = _arc(-mouth_half, mouth_half, cupid, 9)
        outer_lower = _arc(mouth_half, -mouth_half, lambda xs: mouth_y + 1.3 * lip * _cos_profile(
            xs, 0.0, mouth_half, 0.8), 9)[1:-1]  # fmt: skip
        contours["lips_outer"] = on_head(np.concatenate([outer_upper, outer_lower]), bulge=1.1)
        inner_half = mouth_half * 0.85
        inner_upper = _arc(-inner_half, inner_half, lambda xs: mouth_y - 0.004 + 0 * xs, 7)
        inner_lower = _arc(inner_half, -inner_half, lambda xs: mouth_y + 0.004 + 0 * xs, 7)[1:-1]
        contours["lips_inner"] = on_head(np.concatenate([inner_upper, inner_lower]), bulge=1.1)
        return contours

    def contour(self, name: str, landmarks: np.ndarray) -> np.ndarray:
        if name not in self.slices:
            raise ValueError(f"unknown contour {name!r}; known: {', '.join(self.names)}")
        return landmarks[self.slices[name]]

    def _mask(self, name: str, predicate=None) -> np.ndarray:
        """Per-landmark weights (n,) selecting a contour (optionally a part of it)."""
        weights = np.zeros(len(self.neutral), np.float32)
        points = self.neutral[self.slices[name]]
        weights[self.slices[name]] = 1.0 if predicate is None else predicate(points).astype(np.float32)
        return weights

    def _blendshape_basis(self) -> np.ndarray:
        n = len(self.neutral)
        basis = np.zeros((len(ARKIT_BLENDSHAPES), n, 3), np.float32)
        pts = self.neutral
        x, y = pts[:, 0], pts[:, 1]
        p = self.params
        mouth_y = MOUTH_Y * p.face_length
        mouth_half = 0.3 * p.mouth_width
        # Lips open and round in the middle and stay joined at the corners.
        lip_profile = _cos_profile(x, 0.0, mouth_half * 1.05, 0.6)
        lips_outer, lips_inner = self.slices["lips_outer"], self.slices["lips_inner"]
        lip_points = np.zeros(n, bool)
        lip_points[lips_outer] = True
        lip_points[lips_inner] = True
        lower_lip = lip_points & (y > mouth_y + 1e-4)
        lower_lip[lips_inner] = False
        lower_lip[lips_inner] = np.arange(lips_inner.stop - lips_inner.start) >= 7  # inner lower points
        upper_lip = lip_points & ~lower_lip
        oval = self._mask("face_oval")
        chin = oval * np.clip((y - 0.2) / 1.0, 0, 1) ** 1.2

        def put(name, deltas):
            basis[BLENDSHAPE_INDEX[name]] = deltas

        def field_of(weights, dx=0.0, dy=0.0, dz=0.0):
            return np.stack([weights * dx, weights * dy, weights * dz], axis=1)

        # Jaw: the lower lip, the inner lower lip and the chin drop together.
        jaw_drop = field_of(lower_lip * lip_profile + chin * 0.85, dy=0.42)
        put("jawOpen", jaw_drop + field_of(upper_lip * lip_profile, dy=-0.03))
        put("jawLeft", field_of(lower_lip + chin, dx=0.12))
        put("jawRight", field_of(lower_lip + chin, dx=-0.12))
        put("jawForward", field_of(lower_lip + chin, dz=0.12, dy=0.02))
        # Lips.
        put("mouthClose", field_of(lower_lip, dy=-0.1) + field_of(upper_lip * (y > mouth_y - 0.2), dy=0.03))
        put("mouthFunnel", field_of(lip_points, dz=0.1) + np.stack([-x * 0.35 * lip_points, (y - mouth_y) * 0.6 *
            lip_points, 0 * x], 1))  # fmt: skip
        put("mouthPucker", field_of(lip_points, dz=0.14) + np.stack([-x * 0.45 * lip_points, 0 * x, 0 * x], 1))
        put("mouthLeft", field_of(lip_points, dx=0.1))
        put("mouthRight", field_of(lip_points, dx=-0.1))
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            this_side = np.clip(sign * x / mouth_half, 0, 1) ** 2 * lip_points
            put(f"mouthSmile{side}", field_of(this_side, dx=sign * 0.11, dy=-0.17))
            put(f"mouthFrown{side}", field_of(this_side, dy=0.15))
            put(f"mouthDimple{side}", field_of(this_side, dx=sign * 0.06, dz=-0.03))
            put(f"mouthStretch{side}", field_of(this_side, dx=sign * 0.15, dy=0.03))
            half = (sign * x > 0) * 1.0
            put(f"mouthPress{side}", field_of(lower_lip * half, dy=-0.04) + field_of(upper_lip * half, dy=0.03))
            put(f"mouthLowerDown{side}", field_of(lower_lip * half * lip_profile, dy=0.1))
            put(f"mouthUpperUp{side}", field_of(upper_lip * half * lip_profile, dy=-0.1))
            eye = self._mask(f"eye_{side.lower()}")
            upper_lid = eye * (y < EYE_Y - 1e-4)
            lower_lid = eye * (y > EYE_Y + 1e-4)
            eye_open = 0.085 * p.eye_size
            # Lids move in proportion to the local opening, so they meet along the whole eye, corners included.
            eye_profile = _cos_profile(x, sign * 0.4 * p.eye_spacing, 0.21 * p.eye_size)
            lower_line = EYE_Y + 0.6 * eye_open * eye_profile
            gap = (lower_line - y) * upper_lid
            put(f"eyeBlink{side}", field_of(upper_lid, dy=0.0) + np.stack([0 * x, gap * 0.95, 0 * x], 1)
                + field_of(lower_lid * eye_profile, dy=-eye_open * 0.05))  # fmt: skip
            put(f"eyeSquint{side}", field_of(lower_lid * eye_profile, dy=-eye_open * 0.45) + np.stack(
                [0 * x, gap * 0.15, 0 * x], 1))  # fmt: skip
            put(f"eyeWide{side}", field_of(upper_lid * eye_profile, dy=-eye_open * 0.6))
            iris = self._mask(f"iris_{side.lower()}")
            put(f"eyeLookUp{side}", field_of(iris, dy=-0.05))
            put(f"eyeLookDown{side}", field_of(iris, dy=0.05) + np.stack([0 * x, gap * 0.25, 0 * x], 1))
            # "in" is toward the nose: -x for the left eye, +x for the right eye
            put(f"eyeLookIn{side}", field_of(iris, dx=-sign * 0.08))
            put(f"eyeLookOut{side}", field_of(iris, dx=sign * 0.08))
            brow = self._mask(f"brow_{side.lower()}")
            inner = brow * np.clip(1 - np.abs(x) / 0.6, 0, 1)
            outer = brow * np.clip(np.abs(x) / 0.6, 0, 1)
            put(f"browDown{side}", field_of(brow, dy=0.1) + field_of(inner, dx=-sign * 0.05, dy=0.03))
            put(f"browOuterUp{side}", field_of(outer, dy=-0.15))
            cheek = oval * half * (np.abs(y) < 0.4)
            lid_raise = field_of(lower_lid * eye_profile, dy=-eye_open * 0.35)
            put(f"cheekSquint{side}", lid_raise + field_of(cheek, dy=-0.03))
            nose = self._mask("nose_base") * half
            put(f"noseSneer{side}", field_of(nose, dy=-0.07) + field_of(upper_lip * half * 0.5, dy=-0.06))
        brows = self._mask("brow_left") + self._mask("brow_right")
        put("browInnerUp", field_of(brows * np.clip(1 - np.abs(x) / 0.6, 0, 1), dy=-0.18))
        put("cheekPuff", np.stack([np.sign(x) * oval * (np.abs(y - 0.35) < 0.45) * 0.12, 0 * x, 0 * x], 1))
        put("mouthRollLower", field_of(lower_lip * (~np.isin(np.arange(n), range(lips_inner.start,
            lips_inner.stop))), dy=-0.05))  # fmt: skip
        put("mouthRollUpper", field_of(upper_lip * (y < mouth_y - 0.01), dy=0.04))
        put("mouthShrugLower", field_of(lower_lip, dy=-0.05, dz=0.04))
        put("mouthShrugUpper", field_of(upper_lip, dy=-0.03, dz=0.03))
        # tongueOut moves no landmark: the characters draw a tongue from the weight.
        return basis

    # ------------------------------------------------------------------ evaluation

    def landmarks(self, weights: np.ndarray) -> np.ndarray:
        """3D landmarks (n, 3) for blendshape weights (52,)."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.shape != (len(ARKIT_BLENDSHAPES),):
            raise ValueError(f"weights must have shape (52,), got {weights.shape}")
        return self.neutral + np.tensordot(np.clip(weights, 0, 1), self.basis, axes=1)

    @staticmethod
    def rotation(pose: HeadPose) -> np.ndarray:
        yaw, pitch, roll = np.radians([pose.yaw_deg, pose.pitch_deg, pose.roll_deg])
        ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
        rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
        return (rz @ rx @ ry).astype(np.float32)

    def project(self, points: np.ndarray, pose: HeadPose, size: tuple[int, int]) -> np.ndarray:
        """Image coordinates (n, 2) in pixels of 3D head points under `pose` in an image of `size` (w, h)."""
        width, height = size
        rotated = points @ self.rotation(pose).T
        pixels_per_unit = self.params.framing * width * pose.scale
        centre = np.array([width * (0.5 + pose.tx), height * (0.47 + pose.ty)], np.float32)
        return rotated[:, :2] * pixels_per_unit + centre

    def image_landmarks(self, state: RigState, size: tuple[int, int]) -> np.ndarray:
        """Projected 2D landmarks of a rig state."""
        return self.project(self.landmarks(state.weights), state.pose, size)
