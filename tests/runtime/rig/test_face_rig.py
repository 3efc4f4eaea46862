import numpy as np
import pytest

from eai_avatar.runtime.rig import (
    RIG_BLENDSHAPES,
    FaceRig,
    HeadPose,
    MaskReference,
    RigParams,
    RigState,
    draw_motion_image,
    estimate_pose_from_mask,
)
from eai_avatar.runtime.rig.canvas import Canvas
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX

RIG = FaceRig()


def _state(pose=None, **weights):
    return RigState.from_dict(weights, pose)


def test_rig_moves_at_least_24_arkit_shapes_including_the_required_groups():
    moving = {name for i, name in enumerate(ARKIT_BLENDSHAPES) if np.abs(RIG.basis[i]).max() > 0}
    assert len(moving) >= 24
    required = {"jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "eyeBlinkLeft", "eyeBlinkRight",
                "browInnerUp", "browDownLeft", "mouthSmileLeft", "mouthFrownLeft", "eyeSquintLeft",
                "cheekSquintLeft", "cheekPuff", "noseSneerLeft"}  # fmt: skip
    assert required <= moving
    assert set(RIG_BLENDSHAPES) <= set(ARKIT_BLENDSHAPES)


def test_blendshapes_are_linear_and_move_the_right_parts():
    neutral = RIG.landmarks(np.zeros(52, np.float32))
    half = RIG.landmarks(_state(jawOpen=0.5).weights)
    full = RIG.landmarks(_state(jawOpen=1.0).weights)
    assert np.allclose(half - neutral, 0.5 * (full - neutral), atol=1e-6)
    lips = RIG.slices["lips_outer"]
    lower_lip_drop = (full - neutral)[lips][:, 1].max()
    assert lower_lip_drop > 0.3  # y is down: the lower lip drops
    eye_left, eye_right = RIG.slices["eye_left"], RIG.slices["eye_right"]
    blink = RIG.landmarks(_state(eyeBlinkLeft=1.0).weights)
    assert np.abs((blink - neutral)[eye_left]).max() > 0.05 and np.abs((blink - neutral)[eye_right]).max() == 0
    # the character's left is +x
    assert neutral[eye_left][:, 0].mean() > 0 > neutral[eye_right][:, 0].mean()


def test_a_blink_closes_the_eye():
    def opening(weights):  # the eye polygon's area (shoelace)
        x, y = RIG.contour("eye_left", RIG.landmarks(weights))[:, :2].T
        return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))

    assert opening(_state(eyeBlinkLeft=1.0).weights) < 0.1 * opening(_state().weights)
    assert opening(_state(eyeWideLeft=1.0).weights) > 1.2 * opening(_state().weights)


def test_pose_conventions():
    nose_tip = RIG.contour("nose_base", RIG.neutral).mean(axis=0, keepdims=True)
    centre = RIG.project(nose_tip, HeadPose(), (256, 256))[0]
    assert RIG.project(nose_tip, HeadPose(yaw_deg=20), (256, 256))[0][0] > centre[0]  # toward the character's left
    assert RIG.project(nose_tip, HeadPose(pitch_deg=20), (256, 256))[0][1] < centre[1]  # looks up
    top = np.array([[0.0, -1.2, 0.0]], np.float32)
    assert RIG.project(top, HeadPose(roll_deg=15), (256, 256))[0][0] > RIG.project(top, HeadPose(), (256, 256))[0][0]
    assert RIG.project(nose_tip, HeadPose(tx=0.1), (256, 256))[0][0] == pytest.approx(centre[0] + 25.6, abs=1e-3)


def test_motion_image_is_deterministic_and_scales():
    state = _state(HeadPose(yaw_deg=8, roll_deg=-4), jawOpen=0.4, mouthSmileLeft=0.6)
    a, b = draw_motion_image(RIG, state, (256, 256)), draw_motion_image(RIG, state, (256, 256))
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert draw_motion_image(RIG, state, (128, 128)).shape == (128, 128, 3)
    lips_colour_pixels = np.all(a == [255, 40, 40], axis=-1).sum() + np.all(a == [255, 0, 255], axis=-1).sum()
    assert lips_colour_pixels > 20
    assert not np.array_equal(a, draw_motion_image(RIG, _state(), (256, 256)))


def _oval_mask(pose, size=(256, 256)):
    canvas = Canvas(size, "L", 0)
    canvas.polygon(RIG.image_landmarks(RigState(pose=pose), size)[RIG.slices["face_oval"]], 255)
    return canvas.result()


@pytest.mark.parametrize(
    "pose",
    [
        HeadPose(tx=0.08, ty=-0.05),
        HeadPose(scale=1.15),
        HeadPose(roll_deg=12.0),
        HeadPose(roll_deg=-9, tx=-0.05, scale=0.9),
    ],
)
def test_pose_from_mask_recovers_translation_scale_and_roll(pose):
    reference = MaskReference.from_mask(_oval_mask(HeadPose()))
    estimate = estimate_pose_from_mask(_oval_mask(pose), reference)
    assert estimate.tx == pytest.approx(pose.tx, abs=0.01)
    assert estimate.ty == pytest.approx(pose.ty, abs=0.01)
    assert estimate.scale == pytest.approx(pose.scale, abs=0.02)
    assert estimate.roll_deg == pytest.approx(pose.roll_deg, abs=1.5)
    # a mask at another resolution is measured in the reference's units
    small = estimate_pose_from_mask(_oval_mask(pose, (128, 128)), reference)
    assert small.tx == pytest.approx(pose.tx, abs=0.015) and small.scale == pytest.approx(pose.scale, abs=0.03)


def test_rig_params_json_round_trip_and_bad_input(tmp_path):
    params = RigParams(face_width=1.1, eye_size=0.9)
    path = tmp_path / "rig.json"
    path.write_text(params.to_json())
    assert RigParams.load(path) == params
    with pytest.raises(ValueError, match="face_width"):
        RigParams(face_width=3.0)
    with pytest.raises(ValueError, match="unknown rig parameters"):
        RigParams.from_json('{"ear_size": 1.0}')
    with pytest.raises(FileNotFoundError):
        RigParams.load(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="52"):
        RigState(np.zeros(10))
    with pytest.raises(ValueError, match="unknown ARKit blendshape"):
        RigState.from_dict({"jawopen": 1.0})
    with pytest.raises(ValueError, match="empty"):
        estimate_pose_from_mask(np.zeros((64, 64)), MaskReference.from_mask(_oval_mask(HeadPose())))
    assert RigState.from_dict({"jawOpen": 2.0}).weights[BLENDSHAPE_INDEX["jawOpen"]] == 1.0  # clipped to [0, 1]
