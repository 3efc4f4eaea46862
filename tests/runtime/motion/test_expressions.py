import itertools

import numpy as np
import pytest

from eai_avatar.runtime.motion.expressions import (
    LISTEN_EXPRESSIONS,
    ROLES,
    SPEAK_EXPRESSIONS,
    blink_curve,
    combine,
    emotion_offsets,
    expression_sequence,
)
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, EMOTIONS, FPS

JAW = BLENDSHAPE_INDEX["jawOpen"]


def _phonemes():
    spec = [("_", 0.5), ("h", 0.06), ("@", 0.05), ("l", 0.07), ("'oU", 0.2), ("m", 0.08), ("'A:", 0.2), ("_", 0.6)]
    out, t = [], 0.0
    for phoneme, duration in spec:
        out.append(PhonemeTiming(phoneme, t, t + duration))
        t += duration
    return out


def test_tables_cover_every_emotion_with_valid_names():
    for table in (SPEAK_EXPRESSIONS, LISTEN_EXPRESSIONS):
        assert set(table) == set(EMOTIONS)
        for weights in table.values():
            assert set(weights) <= set(ARKIT_BLENDSHAPES)
            assert all(0.0 <= value <= 1.0 for value in weights.values())


@pytest.mark.parametrize("role", ROLES)
def test_offsets_are_distinct_and_neutral_is_zero(role):
    offsets = {emotion: emotion_offsets(emotion, role) for emotion in EMOTIONS}
    for vector in offsets.values():
        assert vector.shape == (52,) and vector.dtype == np.float32
        assert vector.min() >= 0.0 and vector.max() <= 1.0
    assert not offsets["neutral"].any()
    for a, b in itertools.combinations(EMOTIONS, 2):
        assert np.linalg.norm(offsets[a] - offsets[b]) > 0.1, (a, b)


def test_listening_is_stronger_and_contempt_is_one_sided():
    for emotion in EMOTIONS:
        if emotion != "neutral":
            listen, speak = emotion_offsets(emotion, "listen"), emotion_offsets(emotion, "speak")
            assert np.linalg.norm(listen) > np.linalg.norm(speak), emotion
    contempt = emotion_offsets("contempt", "speak")
    assert contempt[BLENDSHAPE_INDEX["mouthSmileLeft"]] > contempt[BLENDSHAPE_INDEX["mouthSmileRight"]] + 0.2
    assert emotion_offsets("surprised", "speak")[JAW] == 0.0
    half = emotion_offsets("happy", "listen", intensity=0.5)
    assert np.allclose(half, 0.5 * emotion_offsets("happy", "listen"))


def test_bad_emotion_role_or_intensity_raise():
    with pytest.raises(ValueError, match="'joyful'"):
        emotion_offsets("joyful", "speak")
    with pytest.raises(ValueError, match="'talk'"):
        emotion_offsets("happy", "talk")
    with pytest.raises(ValueError, match="-1"):
        emotion_offsets("happy", "speak", intensity=-1.0)
    with pytest.raises(ValueError, match="'shout'"):
        expression_sequence([], 10, "happy", "shout", np.random.default_rng(0))


def test_combine_keeps_speech_in_charge_of_the_mouth_and_silence_closed():
    frames = np.zeros((3, 52), np.float32)
    frames[1, JAW] = 0.6  # an open vowel
    smile = BLENDSHAPE_INDEX["mouthSmileLeft"]
    for emotion in EMOTIONS:
        for role in ROLES:
            out = combine(frames, emotion_offsets(emotion, role, intensity=1.5))
            assert out.min() >= 0.0 and out.max() <= 1.0
            assert out[0, JAW] <= 0.05 and out[2, JAW] <= 0.05
            if role == "speak":
                assert out[0, JAW] < 0.02
    happy = emotion_offsets("happy", "speak")
    out = combine(frames, happy)
    assert out[1, smile] < out[0, smile]  # attenuated while the jaw is open
    assert out[1, JAW] == pytest.approx(0.6)
    brow = BLENDSHAPE_INDEX["browInnerUp"]
    sad = combine(frames, emotion_offsets("sad", "speak"))
    assert sad[0, brow] == sad[1, brow] > 0  # outside the mouth offsets simply add


def test_blinks_rate_height_and_spacing():
    for role, rate in (("speak", 17.0), ("listen", 17.0), ("speak", 10.0)):
        curve = blink_curve(10 * 60 * FPS, np.random.default_rng(7), rate_per_min=rate, role=role)
        assert curve.dtype == np.float32 and curve.min() >= 0.0 and curve.max() <= 1.0
        closed = curve >= 0.5
        onsets = np.flatnonzero(closed[1:] & ~closed[:-1]) + 1
        assert abs(len(onsets) / 10.0 - rate) < 0.4 * rate, (role, len(onsets))
        assert np.diff(onsets).min() > 1.0 * FPS
        for onset in onsets:  # each blink closes the lids fully and is short
            blink = curve[onset - 3 : onset + 8]
            assert blink.max() >= 0.9
            assert (blink > 0.05).sum() <= 7  # under 280 ms
    never = blink_curve(0, np.random.default_rng(0))
    assert never.shape == (0,)


def test_listeners_blink_a_little_more():
    counts = {}
    for role in ROLES:
        curve = blink_curve(30 * 60 * FPS, np.random.default_rng(3), role=role)
        counts[role] = int(np.sum((curve[1:] >= 0.5) & (curve[:-1] < 0.5)))
    assert counts["listen"] > counts["speak"]


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_expression_sequence(emotion):
    phonemes = _phonemes()
    frames = 4 * FPS
    speak = expression_sequence(phonemes, frames, emotion, "speak", np.random.default_rng(1))
    listen = expression_sequence(phonemes, frames, emotion, "listen", np.random.default_rng(1))
    for face in (speak, listen):
        assert face.shape == (frames, 52) and face.dtype == np.float32
        assert face.min() >= 0.0 and face.max() <= 1.0
    assert listen[:, JAW].max() <= 0.05
    assert speak[:, JAW].max() > 0.2
    assert speak[: int(0.35 * FPS), JAW].max() < 0.02 and speak[-int(0.4 * FPS) :, JAW].max() < 0.02
    again = expression_sequence(phonemes, frames, emotion, "speak", np.random.default_rng(1))
    assert np.array_equal(speak, again)
    if emotion == "happy":
        smile = BLENDSHAPE_INDEX["mouthSmileRight"]
        assert listen[:, smile].min() > 0.4
