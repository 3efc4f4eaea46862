import numpy as np
import pytest

from eai_avatar.runtime.motion.visemes import (
    PHONEME_TO_VISEME,
    VISEME_TARGETS,
    VISEMES,
    viseme_curves,
    viseme_for,
)
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, FPS

JAW = BLENDSHAPE_INDEX["jawOpen"]


def _utterance(spec, start=0.0):
    """PhonemeTimings from (phoneme, duration) pairs laid end to end from `start`."""
    out, t = [], start
    for phoneme, duration in spec:
        out.append(PhonemeTiming(phoneme, t, t + duration))
        t += duration
    return out, t


SPEECH = [("h", 0.06), ("@", 0.05), ("l", 0.07), ("'oU", 0.2), ("w", 0.06), ("3:", 0.15), ("l", 0.08), ("d", 0.07),
          ("_", 0.1), ("D", 0.05), ("'a", 0.16), ("t", 0.06), ("s", 0.1), ("'A:", 0.18), ("l", 0.06)]  # fmt: skip


def test_tables_are_complete_and_in_range():
    assert set(VISEME_TARGETS) == set(VISEMES) and len(VISEMES) == 15
    assert set(PHONEME_TO_VISEME.values()) <= set(VISEMES)
    for viseme, target in VISEME_TARGETS.items():
        assert set(target) <= set(ARKIT_BLENDSHAPES), viseme
        assert all(0.0 <= value <= 1.0 for value in target.values()), viseme
    assert VISEME_TARGETS["sil"] == {}
    assert VISEME_TARGETS["TH"]["tongueOut"] > 0
    assert VISEME_TARGETS["aa"]["jawOpen"] > VISEME_TARGETS["E"]["jawOpen"] > VISEME_TARGETS["PP"]["jawOpen"]


@pytest.mark.parametrize(
    ("phoneme", "viseme"),
    [("p", "PP"), ("m", "PP"), ("f", "FF"), ("D", "TH"), ("t", "DD"), ("g", "kk"), ("tS", "CH"), ("Z", "CH"),
     ("z", "SS"), ("l", "nn"), ("r", "RR"), ("A:", "aa"), ("E", "E"), ("i:", "I"), ("O:", "O"), ("u:", "U"),
     ("_", "sil"), ("'aI", "aa"), (",oU", "O"), ("'i:", "I"), ("aI@3", "aa"), ("e:", "E"), ("Q", "DD"),
     ("y", "E"), ("_:", "sil"), ("", "sil")],
)  # fmt: skip
def test_phoneme_lookup_is_robust(phoneme, viseme):
    assert viseme_for(phoneme) == viseme


def test_shape_dtype_range_and_empty_inputs():
    phonemes, end = _utterance(SPEECH)
    frames = int(end * FPS) + 10
    curves = viseme_curves(phonemes, frames)
    assert curves.shape == (frames, 52) and curves.dtype == np.float32
    assert curves.min() >= 0.0 and curves.max() <= 1.0
    assert viseme_curves([], 7).shape == (7, 52) and not viseme_curves([], 7).any()
    assert viseme_curves(phonemes, 0).shape == (0, 52)
    with pytest.raises(ValueError, match="-1"):
        viseme_curves(phonemes, -1)


def test_silence_closes_the_mouth():
    speech, end = _utterance(SPEECH, start=1.0)
    phonemes = [PhonemeTiming("_", 0.0, 1.0), *speech, PhonemeTiming("_", end, end + 1.0)]
    frames = int((end + 1.5) * FPS)  # also half a second past the last phoneme
    jaw = viseme_curves(phonemes, frames)[:, JAW]
    times = (np.arange(frames) + 0.5) / FPS
    silent = (times < 1.0 - 0.1) | (times > end + 0.1)
    assert jaw[silent].max() < 0.02
    assert jaw[(times > 1.0) & (times < end)].max() > 0.2


def test_bilabial_closes_between_open_vowels():
    phonemes, _ = _utterance([("a", 0.12), ("m", 0.12), ("a", 0.12)], start=0.2)
    curves = viseme_curves(phonemes, 20)
    vowel_a, closure, vowel_b = (int(t * FPS) for t in (0.26, 0.38, 0.50))  # the frames at the three centres
    for name in ("mouthClose", "mouthPressLeft", "mouthPressRight"):
        index = BLENDSHAPE_INDEX[name]
        assert curves[closure, index] > curves[vowel_a, index] + 0.2
        assert curves[closure, index] > curves[vowel_b, index] + 0.2
    assert curves[closure, JAW] < 0.05
    assert curves[closure, JAW] < curves[vowel_a, JAW] - 0.15 and curves[closure, JAW] < curves[vowel_b, JAW] - 0.15


def test_a_long_bilabial_is_held_shut_for_its_whole_span_and_released_after_it():
    phonemes, _ = _utterance([("a", 0.2), ("m", 0.24), ("a", 0.2)], start=0.2)
    curves = viseme_curves(phonemes, 30)
    centres = (np.arange(30) + 0.5) / FPS
    inside = (centres > 0.4) & (centres < 0.64)  # every frame of the m, its edges included
    target = VISEME_TARGETS["PP"]["mouthClose"]
    assert np.allclose(curves[inside, BLENDSHAPE_INDEX["mouthClose"]], target, atol=1e-6)
    assert curves[inside, JAW].max() < 0.03
    released = int((0.64 + 0.06) * FPS + 0.5)  # the first frame 60 ms past the m: the vowel is open again
    assert curves[released, JAW] > 0.5 and curves[released, BLENDSHAPE_INDEX["mouthClose"]] < 0.01


def test_short_bilabial_between_frames_is_still_seen_closed():
    phonemes, _ = _utterance([("a", 0.15), ("b", 0.04), ("a", 0.15)], start=0.1)
    curves = viseme_curves(phonemes, 15)
    assert curves[:, JAW].min() < 0.05  # a 40 ms "b" centred between two frames


def test_coarticulation_is_continuous():
    phonemes, end = _utterance(SPEECH * 3, start=0.3)
    curves = viseme_curves(phonemes, int(end * FPS) + 10)
    steps = np.abs(np.diff(curves, axis=0))
    assert steps[:, JAW].max() < 0.5
    assert steps.max() < 0.7


def test_unsorted_and_degenerate_timings_are_tolerated():
    phonemes = [PhonemeTiming("a", 0.3, 0.5), PhonemeTiming("t", 0.2, 0.2), PhonemeTiming("s", 0.1, 0.2)]
    curves = viseme_curves(phonemes, 20)
    assert np.all(np.isfinite(curves)) and curves[:, JAW].max() > 0.2
    with pytest.raises(ValueError, match="'a'"):
        viseme_curves([PhonemeTiming("a", float("nan"), 0.2)], 5)
