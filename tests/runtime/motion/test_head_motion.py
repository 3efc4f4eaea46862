import dataclasses

import numpy as np
import pytest

from eai_avatar.runtime.motion.head_motion import (
    LISTENING,
    NEUTRAL_POSE,
    POSE_COLUMNS,
    SPEAKING,
    HeadMotionStyle,
    head_pose_sequence,
)
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import FPS

TEN_MINUTES = 10 * 60 * FPS
LIMITS = np.array([25.0, 15.0, 12.0, 0.06, 0.06, 0.06])


@pytest.fixture(scope="module")
def long_runs():
    return {
        style.name: head_pose_sequence(TEN_MINUTES, style, np.random.default_rng(11)) for style in (SPEAKING, LISTENING)
    }


def test_columns_shape_and_determinism():
    assert POSE_COLUMNS == ("yaw_deg", "pitch_deg", "roll_deg", "tx", "ty", "scale")
    a = head_pose_sequence(200, SPEAKING, np.random.default_rng(5))
    b = head_pose_sequence(200, SPEAKING, np.random.default_rng(5))
    c = head_pose_sequence(200, SPEAKING, np.random.default_rng(6))
    assert a.shape == (200, 6) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert head_pose_sequence(0, LISTENING, np.random.default_rng(0)).shape == (0, 6)


def test_bounds_and_no_drift_over_ten_minutes(long_runs):
    for poses in long_runs.values():
        deviation = np.abs(poses - NEUTRAL_POSE)
        assert np.all(deviation <= LIMITS)
        assert abs(poses[:, 0].mean()) < 3.0 and abs(poses[:, 1].mean()) < 3.0 and abs(poses[:, 2].mean()) < 3.0
        assert 0.99 < poses[:, 5].mean() < 1.01
        assert poses[:, 0].std() > 1.0  # the head does move


def test_speaking_moves_more_than_listening(long_runs):
    def speed(poses):
        return np.abs(np.diff(poses[:, :3], axis=0)).mean()

    assert speed(long_runs["speaking"]) > 1.5 * speed(long_runs["listening"])


def test_soft_limits_hold_for_an_extreme_style():
    wild = dataclasses.replace(SPEAKING, name="wild", std=(60.0, 40.0, 30.0, 0.2, 0.2, 0.2))
    poses = head_pose_sequence(2000, wild, np.random.default_rng(0))
    assert np.all(np.abs(poses - NEUTRAL_POSE) <= LIMITS)


@pytest.mark.parametrize(("first", "second"), [(SPEAKING, LISTENING), (LISTENING, SPEAKING), (SPEAKING, SPEAKING)])
def test_start_continuity(first, second):
    previous = head_pose_sequence(300, first, np.random.default_rng(1))
    poses = head_pose_sequence(500, second, np.random.default_rng(2), start=previous[-1])
    assert np.array_equal(poses[0], previous[-1])
    steps = np.linalg.norm(np.diff(poses[:, :3], axis=0), axis=1)
    assert steps[0] < np.percentile(steps, 99)
    joined = np.concatenate([previous, poses[1:]])
    joint_steps = np.linalg.norm(np.diff(joined[:, :3], axis=0), axis=1)
    assert joint_steps[299] < np.percentile(joint_steps, 99)


def test_out_of_range_start_is_clamped_and_bad_start_rejected():
    start = np.array([40.0, -30.0, 0.0, 0.0, 0.0, 1.0])
    poses = head_pose_sequence(50, LISTENING, np.random.default_rng(0), start=start)
    assert np.all(np.abs(poses - NEUTRAL_POSE) <= LIMITS)
    assert poses[0, 0] == pytest.approx(25.0, abs=0.01)
    with pytest.raises(ValueError, match="start"):
        head_pose_sequence(10, SPEAKING, np.random.default_rng(0), start=np.zeros(3))
    with pytest.raises(ValueError, match="-5"):
        head_pose_sequence(-5, SPEAKING, np.random.default_rng(0))
    with pytest.raises(ValueError, match="std"):
        HeadMotionStyle("bad", (1.0,) * 5, (1.0,) * 6, 0.1, 0.1, 1.0, 0.4, 0.1, 1.0, 1.0)


def test_nods_follow_stressed_syllables():
    always = dataclasses.replace(SPEAKING, std=(0.0,) * 6, stress_nod_probability=1.0, tilt_rate_hz=0.0)
    phonemes, t = [], 0.0
    for phoneme, duration in [("_", 0.5), ("h", 0.06), ("@", 0.05), ("l", 0.07), ("'oU", 0.2), ("_", 2.0)]:
        phonemes.append(PhonemeTiming(phoneme, t, t + duration))
        t += duration
    poses = head_pose_sequence(int(t * FPS), always, np.random.default_rng(0), phonemes=phonemes)
    peak_time = (np.argmax(poses[:, 1]) + 0.5) / FPS
    assert poses[:, 1].max() > 1.0
    assert abs(peak_time - 0.68 - 0.05) < 0.12  # the stressed vowel starts at 0.68 s
    assert np.all(poses[int(1.5 * FPS) :, 1] == 0.0)
