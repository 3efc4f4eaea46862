import logging

import numpy as np
import pytest

from eai_avatar.runtime.models.leed import (
    SEAM_STEP_RATIO,
    ListenerExpressionStream,
    ListeningDictionary,
    make_loopable,
)
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, EMOTIONS

C = len(ARKIT_BLENDSHAPES)
# Levels far apart, so a frame tells which emotion it came from and a cut between emotions is a big jump.
LEVEL = {"neutral": 0.2, "happy": 0.75, "sad": 0.45}


def _smooth(rng, frames, level):
    """Smooth listening-like curves: a random walk, box-filtered, around `level`, clipped to [0, 1]."""
    walk = np.cumsum(rng.normal(0.0, 0.01, (frames + 4, C)), axis=0)
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(walk[:, c], kernel, mode="valid") for c in range(C)], axis=1)
    return np.clip(level + smooth - smooth.mean(axis=0), 0.0, 1.0).astype(np.float32)


def _drifting_walk(rng, frames):
    """A random walk whose ends differ a lot: a drift of +-0.5 over the sequence on every channel."""
    walk = 0.5 + np.cumsum(rng.normal(0.0, 0.01, (frames, C)), axis=0)
    walk += np.linspace(-0.25, 0.25, frames)[:, None] * rng.choice([-1.0, 1.0], C)
    return np.clip(walk, 0.0, 1.0).astype(np.float32)


def _steps(x):
    return np.abs(np.diff(x, axis=0)).max(axis=1)


def _threshold(x):
    return SEAM_STEP_RATIO * np.percentile(_steps(x), 95)


def _seam(loop):
    return np.abs(loop[0] - loop[-1]).max()


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(7)
    return {
        "ada": {emotion: [_smooth(rng, 80 + 20 * i, level) for i in range(3)] for emotion, level in LEVEL.items()},
        "bo": {"happy": [_smooth(rng, 60, LEVEL["happy"])]},
    }


@pytest.fixture(scope="module")
def leed(sequences):
    return ListeningDictionary(sequences)


def _phase_in(loop, frames):
    """The start index at which `frames` is a cyclic window of `loop`, or None."""
    index = np.arange(len(frames))
    for start in np.flatnonzero((loop == frames[0]).all(axis=1)):
        if np.array_equal(loop[(start + index) % len(loop)], frames):
            return int(start)
    return None


# ---------------------------------------------------------------------------------------------- loops


@pytest.mark.parametrize("make", [_smooth, _drifting_walk], ids=["smooth", "drifting-walk"])
@pytest.mark.parametrize("seed", range(12))
def test_loops_have_no_jump_at_the_seam(make, seed):
    rng = np.random.default_rng(seed)
    x = make(rng, 120, 0.4) if make is _smooth else make(rng, 120)
    loop = make_loopable(x)
    threshold = _threshold(x)
    if make is _drifting_walk:
        assert _seam(x) > 5 * threshold  # played as is, these would jump
    assert loop.shape[1] == C and 60 <= len(loop) <= 110 and loop.dtype == np.float32
    assert _seam(loop) <= threshold
    # The crossfade itself does not trade the seam for a fast ramp: every step of the loop, seam included,
    # is within the threshold or no larger than the input's own largest step.
    cyclic = _steps(np.concatenate([loop, loop[:1]]))
    assert cyclic.max() <= max(threshold, _steps(x).max()) + 1e-6
    assert loop.min() >= 0.0 and loop.max() <= 1.0


def test_loop_keeps_the_sequence_outside_the_fade():
    x = _drifting_walk(np.random.default_rng(0), 100)
    loop = make_loopable(x, crossfade=10)
    fade = len(x) - len(loop)
    assert fade >= 10
    np.testing.assert_array_equal(loop[fade:], x[fade : len(loop)])
    np.testing.assert_array_equal(loop[0], x[len(loop)])  # the seam is the step x[L-1] -> x[L]


def test_a_plain_cut_would_fail_the_seam_criterion():
    x = _drifting_walk(np.random.default_rng(3), 120)
    assert _seam(x) > _threshold(x)
    assert _seam(x[:-10]) > _threshold(x)


# ---------------------------------------------------------------------------------------------- retrieval


def test_dictionary_lists_identities_and_emotions(leed):
    assert leed.identities() == ("ada", "bo")
    assert leed.emotions("ada") == tuple(e for e in EMOTIONS if e in LEVEL)  # vocabulary order
    assert leed.emotions("bo") == ("happy",)
    assert len(leed.sequences("ada", "sad")) == 3


@pytest.mark.parametrize("offset", ["1", "T-1", "T", "3T+5"])
def test_retrieve_returns_exactly_the_frames_asked_for(leed, offset):
    (loop,) = leed.sequences("bo", "happy")
    period = len(loop)
    frames = {"1": 1, "T-1": period - 1, "T": period, "3T+5": 3 * period + 5}[offset]
    out = leed.retrieve("bo", "happy", frames, np.random.default_rng(0))
    assert out.shape == (frames, C) and out.dtype == np.float32
    assert _phase_in(loop, out) is not None  # a cyclic window of the loop, wrapping as often as needed
    if frames > period:
        np.testing.assert_array_equal(out[period : 2 * period], out[:period])


def test_retrieve_zero_frames_and_bad_counts(leed):
    assert leed.retrieve("ada", "sad", 0, np.random.default_rng(0)).shape == (0, C)
    with pytest.raises(ValueError, match="frames must be >= 0"):
        leed.retrieve("ada", "sad", -1, np.random.default_rng(0))


def test_retrieve_is_seeded_and_picks_among_sequences(leed):
    def get(seed):
        return leed.retrieve("ada", "happy", 50, np.random.default_rng(seed))

    np.testing.assert_array_equal(get(1), get(1))
    assert not np.array_equal(get(1), get(2))
    loops = leed.sequences("ada", "happy")
    picked = {next(i for i, loop in enumerate(loops) if _phase_in(loop, get(seed)) is not None) for seed in range(20)}
    assert picked == {0, 1, 2}
    # ...and starts anywhere in the loop, so a few sequences give many different faces.
    (loop,) = leed.sequences("bo", "happy")
    starts = {_phase_in(loop, leed.retrieve("bo", "happy", 5, np.random.default_rng(seed))) for seed in range(20)}
    assert len(starts) > 10


def test_unknown_emotion_falls_back_to_neutral(leed, caplog):
    with caplog.at_level(logging.DEBUG, logger="eai_avatar.runtime.models.leed"):
        fear = leed.retrieve("ada", "fear", 30, np.random.default_rng(4))
    np.testing.assert_array_equal(fear, leed.retrieve("ada", "neutral", 30, np.random.default_rng(4)))
    assert any("fear" in r.getMessage() and "neutral" in r.getMessage() for r in caplog.records)
    assert leed.resolve("ada", "fear") == "neutral" and leed.resolve("ada", "sad") == "sad"


def test_missing_emotion_without_neutral_and_unknown_identity_are_key_errors(leed):
    with pytest.raises(KeyError, match="no 'sad' listening sequences and no 'neutral'.*it has happy"):
        leed.retrieve("bo", "sad", 10, np.random.default_rng(0))
    with pytest.raises(KeyError, match="identity 'cy'.*known identities: ada, bo"):
        leed.retrieve("cy", "happy", 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown emotion 'joy'"):
        leed.retrieve("ada", "joy", 10, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------- validation


def _one(sequence, emotion="neutral"):
    return {"ada": {emotion: [sequence]}}


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        (np.full((40, C - 1), 0.5, np.float32), r"must be \(T, 52\).*got shape \(40, 51\)"),
        (np.full((40,), 0.5, np.float32), r"got shape \(40,\)"),
        (np.full((19, C), 0.5, np.float32), r"T >= 20 frames.*got shape \(19, 52\)"),
        (np.where(np.eye(40, C) > 0, np.nan, 0.5).astype(np.float32), "non-finite"),
        (np.full((40, C), 1.2, np.float32), r"must lie in \[0, 1\]"),
        (np.full((40, C), -0.1, np.float32), r"must lie in \[0, 1\]"),
    ],
    ids=["channels", "1-d", "too-short", "nan", "above-1", "below-0"],
)
def test_bad_sequences_are_rejected_naming_the_sequence(sequence, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        ListeningDictionary(_one(sequence))
    assert "ada/neutral[0]" in str(excinfo.value)


def test_small_overshoot_is_clipped():
    sequence = np.full((40, C), 0.5, np.float32)
    sequence[3, 4], sequence[5, 6] = 1.0005, -0.0005
    (loop,) = ListeningDictionary(_one(sequence)).sequences("ada", "neutral")
    assert loop.min() >= 0.0 and loop.max() <= 1.0


def test_bad_structure_is_rejected():
    ok = np.full((40, C), 0.5, np.float32)
    with pytest.raises(ValueError, match="unknown emotion 'joy'"):
        ListeningDictionary(_one(ok, "joy"))
    with pytest.raises(ValueError, match="no sequences for 'happy'"):
        ListeningDictionary({"ada": {"happy": []}})
    with pytest.raises(ValueError, match="at least one identity"):
        ListeningDictionary({})
    with pytest.raises(ValueError, match="crossfade"):
        ListeningDictionary(_one(ok), crossfade=0)


def test_stored_sequences_are_read_only(leed):
    with pytest.raises(ValueError):
        leed.sequences("ada", "sad")[0][0, 0] = 0.0


# ---------------------------------------------------------------------------------------------- save / load


def test_save_load_round_trip(leed, tmp_path):
    path = tmp_path / "nested" / "leed.npz"
    leed.save(path)
    with np.load(path, allow_pickle=False) as data:  # readable without pickles
        assert "index" in data.files
    loaded = ListeningDictionary.load(path)
    assert loaded.identities() == leed.identities()
    assert (loaded.crossfade, loaded.max_crossfade) == (leed.crossfade, leed.max_crossfade)
    for identity in leed.identities():
        assert loaded.emotions(identity) == leed.emotions(identity)
        for emotion in leed.emotions(identity):
            for a, b in zip(loaded.sequences(identity, emotion), leed.sequences(identity, emotion), strict=True):
                np.testing.assert_allclose(a, b, atol=5e-4)  # stored as float16
    np.testing.assert_allclose(
        loaded.retrieve("ada", "sad", 200, np.random.default_rng(9)),
        leed.retrieve("ada", "sad", 200, np.random.default_rng(9)),
        atol=5e-4,
    )
    resaved = tmp_path / "again.npz"
    loaded.save(resaved)  # float16 values survive a second round trip exactly
    np.testing.assert_array_equal(
        ListeningDictionary.load(resaved).retrieve("ada", "sad", 200, np.random.default_rng(9)),
        loaded.retrieve("ada", "sad", 200, np.random.default_rng(9)),
    )


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="LEED file not found"):
        ListeningDictionary.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a LEED file"):
        ListeningDictionary.load(tmp_path / "text.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a LEED file"):
        ListeningDictionary.load(tmp_path / "other.npz")


# ---------------------------------------------------------------------------------------------- streams


def _stream(leed, seed=0, emotion="neutral", blend_frames=6):
    return ListenerExpressionStream(leed, "ada", emotion, np.random.default_rng(seed), blend_frames)


def _source(leed, emotion, frames):
    """(loop index, start) of the `emotion` loop that `frames` is a cyclic window of."""
    for i, loop in enumerate(leed.sequences("ada", emotion)):
        start = _phase_in(loop, frames)
        if start is not None:
            return i, start
    return None


def test_stream_chunks_make_one_continuous_stream(leed):
    whole = _stream(leed, 3).next(20)
    stream = _stream(leed, 3)
    np.testing.assert_array_equal(np.concatenate([stream.next(10), stream.next(10)]), whole)
    assert stream.frames_emitted == 20
    assert _source(leed, "neutral", whole) is not None


def test_stream_chunks_with_switches_and_loops_match_one_call(leed):
    sizes = [0, 7, 1, 130, 3, 0, 50, 2, 140, 5]  # some longer than a loop
    # frame -> emotion set before it: at chunk boundaries, one mid-blend, one set twice (empty chunk)
    switches = {7: "happy", 8: "sad", 141: "happy", 193: "neutral"}
    chunked, stream = [], _stream(leed, 5)
    for size in sizes:
        if stream.frames_emitted in switches:
            stream.set_emotion(switches[stream.frames_emitted])
        chunked.append(stream.next(size))
    chunked = np.concatenate(chunked)
    reference, stream = [], _stream(leed, 5)
    for frame in range(len(chunked)):
        if frame in switches:
            stream.set_emotion(switches[frame])
        reference.append(stream.next(1))
    np.testing.assert_array_equal(chunked, np.concatenate(reference))


def test_stream_is_seeded(leed):
    np.testing.assert_array_equal(_stream(leed, 1).next(40), _stream(leed, 1).next(40))
    assert not np.array_equal(_stream(leed, 1).next(40), _stream(leed, 2).next(40))


def test_stream_loops_seamlessly_over_long_runs(leed):
    out = _stream(leed, 2, "sad").next(600)
    assert _source(leed, "sad", out) is not None
    threshold = max(_threshold(x) for x in leed._raw["ada"]["sad"])
    assert _steps(out).max() <= threshold


def _switch(leed, blend_frames, seed=11, before=30, after=40):
    stream = _stream(leed, seed, blend_frames=blend_frames)
    head = stream.next(before)
    stream.set_emotion("happy")
    return head, stream.next(after), stream


def test_emotion_switch_blends_without_a_jump(leed):
    blend = 6
    head, tail, stream = _switch(leed, blend)
    # What would have played without the switch, and the happy loop that plays after the blend.
    old = _stream(leed, 11).next(30 + 40)[30:]
    source = _source(leed, "happy", tail[blend:])
    assert source is not None, "after blend_frames the output is exactly the new emotion's sequence"
    loop = leed.sequences("ada", "happy")[source[0]]
    new = loop[(source[1] - blend + np.arange(len(tail))) % len(loop)]
    assert stream.emotion == "happy" and not stream.blending
    assert _source(leed, "happy", tail[blend - 1 :]) is None  # ...and not before

    # During the blend each frame is (1 - w) old + w new, w rising from near 0 to near 1.
    weights = []
    for k in range(blend):
        gap = new[k] - old[k]
        w = float(gap @ (tail[k] - old[k]) / (gap @ gap))
        np.testing.assert_allclose(tail[k], (1 - w) * old[k] + w * new[k], atol=1e-5)
        weights.append(w)
    assert 0.0 < weights[0] < 0.15 and 0.85 < weights[-1] < 1.0
    assert np.all(np.diff(weights) > 0)

    # No jump: every step through the switch is a typical step plus a small share of the gap between the
    # emotions, far below the cut that a switch without a blend would make.
    raw = leed._raw["ada"]
    typical = max(_threshold(x) for x in raw["neutral"] + raw["happy"])
    gap = np.abs(new[:blend] - old[:blend]).max()
    around = np.concatenate([head[-1:], tail[: blend + 1]])
    assert gap > 0.4  # the emotions are far apart, so a cut would be a visible jump
    assert _steps(around)[0] <= typical + 0.1 * gap  # the first step at the switch is small
    assert _steps(around).max() <= typical + 0.25 * gap


def test_a_cut_would_fail_the_jump_criterion(leed):
    head, tail, _ = _switch(leed, blend_frames=0)
    assert _source(leed, "happy", tail) is not None
    assert np.abs(tail[0] - head[-1]).max() > 0.4


def test_switch_during_a_blend_has_no_jump(leed):
    stream = _stream(leed, 8)
    out = [stream.next(20)]
    stream.set_emotion("happy")
    out.append(stream.next(3))
    stream.set_emotion("sad")
    out.append(stream.next(30))
    out = np.concatenate(out)
    raw = leed._raw["ada"]
    typical = max(_threshold(x) for e in LEVEL for x in raw[e])
    assert _steps(out).max() <= typical + 0.25 * (LEVEL["happy"] - LEVEL["neutral"]) + 0.05
    assert _source(leed, "sad", out[20 + 3 + 6 :]) is not None


def test_same_emotion_is_a_no_op(leed):
    reference = _stream(leed, 4, "happy").next(30)
    stream = _stream(leed, 4, "happy")
    first = stream.next(10)
    stream.set_emotion("happy")
    assert not stream.blending
    np.testing.assert_array_equal(np.concatenate([first, stream.next(20)]), reference)
    # An emotion that falls back to the one showing changes nothing either.
    neutral = _stream(leed, 4)
    neutral.set_emotion("fear")
    assert neutral.emotion == "neutral"
    np.testing.assert_array_equal(neutral.next(30), _stream(leed, 4).next(30))


def test_switch_before_any_frame_starts_straight_on_the_new_emotion(leed):
    stream = _stream(leed, 6)
    stream.set_emotion("happy")
    assert not stream.blending
    assert _source(leed, "happy", stream.next(20)) is not None


def test_stream_errors(leed):
    with pytest.raises(KeyError, match="known identities"):
        ListenerExpressionStream(leed, "cy", "happy", np.random.default_rng(0))
    with pytest.raises(ValueError, match="blend_frames"):
        _stream(leed, blend_frames=-1)
    with pytest.raises(ValueError, match="frames must be >= 0"):
        _stream(leed).next(-3)
    with pytest.raises(ValueError, match="unknown emotion"):
        _stream(leed).set_emotion("joy")
