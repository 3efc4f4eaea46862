"""Log-mel features: causal framing, streaming equals whole-clip, mel placement, dtype handling and errors."""

import numpy as np
import pytest

from eai_avatar.runtime.audio import (
    FEATURES_PER_VIDEO_FRAME,
    LogMelConfig,
    StreamingLogMel,
    frames_to_video,
    log_mel,
    mel_band_centers,
)
from eai_avatar.runtime.audio.features import _features_per_video_frame
from eai_avatar.vocabulary import SAMPLE_RATE, SAMPLES_PER_FRAME

CFG = LogMelConfig()


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    """Noise plus a few tones with a changing envelope, float32 in [-1, 1]: every frame differs."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    tones = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (180.0, 730.0, 2400.0))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    return ((envelope * tones + 0.05 * rng.standard_normal(n)) * 0.8).astype(np.float32)


def _stream(chunks) -> np.ndarray:
    stream = StreamingLogMel()
    return np.concatenate([stream.push(c) for c in chunks])


def _reference_log_mel(x: np.ndarray) -> np.ndarray:
    """A deliberately naive per-frame, per-filter log-mel, written independently of the vectorized code."""
    x = np.asarray(x, dtype=np.float64)
    hann = np.array([0.5 - 0.5 * np.cos(2 * np.pi * n / CFG.window) for n in range(CFG.window)])

    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    step = (mel(CFG.fmax) - mel(CFG.fmin)) / (CFG.n_mels + 1)
    edges = [hz(mel(CFG.fmin) + i * step) for i in range(CFG.n_mels + 2)]
    freqs = np.fft.fftfreq(CFG.n_fft, 1 / CFG.sample_rate)[: CFG.n_fft // 2 + 1]
    freqs[-1] = CFG.sample_rate / 2  # fftfreq calls the Nyquist bin negative
    out = []
    for i in range(len(x) // CFG.hop):
        end = (i + 1) * CFG.hop
        frame = np.array([x[j] if j >= 0 else 0.0 for j in range(end - CFG.window, end)])
        power = np.abs(np.fft.fft(frame * hann, CFG.n_fft)[: CFG.n_fft // 2 + 1]) ** 2
        row = []
        for m in range(CFG.n_mels):
            lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
            weights = [max(0.0, min((f - lo) / (c - lo), (hi - f) / (hi - c))) for f in freqs]
            row.append(np.log(max(float(np.dot(weights, power)), CFG.log_floor)))
        out.append(row)
    return np.array(out)


# --- shapes, framing, alignment ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [160, 161, 319, 320, 400, 12_345, 16_000])
def test_frame_count_is_samples_floor_div_hop(n):
    f = log_mel(_speechlike(n), SAMPLE_RATE)
    assert f.shape == (n // 160, 80)
    assert f.dtype == np.float32


def test_matches_naive_reference():
    x = _speechlike(3_000, seed=3)  # 18 frames: the first ones straddle the zero left-padding
    np.testing.assert_allclose(log_mel(x, SAMPLE_RATE), _reference_log_mel(x), rtol=0, atol=1e-4)


def test_framing_is_causal_and_window_long():
    x = _speechlike(8_000, seed=1).astype(np.float64)
    base = log_mel(x, SAMPLE_RATE)
    i = 20
    end, start = (i + 1) * CFG.hop, (i + 1) * CFG.hop - CFG.window

    later = x.copy()
    later[end:] = 0.9  # audio from sample (i+1)*hop on must not reach frames 0..i
    np.testing.assert_array_equal(log_mel(later, SAMPLE_RATE)[: i + 1], base[: i + 1])

    last = x.copy()
    last[end - 1] += 0.5  # ...but the sample just before it must reach frame i
    assert not np.allclose(log_mel(last, SAMPLE_RATE)[i], base[i])

    earlier = x.copy()
    earlier[:start] = 0.9  # frame i starts at (i+1)*hop - window: nothing before that reaches it
    np.testing.assert_array_equal(log_mel(earlier, SAMPLE_RATE)[i], base[i])

    first = x.copy()
    first[start + 1] += 0.5  # start + 1: the periodic Hann window's first weight is 0
    assert not np.allclose(log_mel(first, SAMPLE_RATE)[i], base[i])


def test_stream_start_is_zero_padded():
    x = _speechlike(3_000, seed=2)
    # Leading zeros of whole hops only shift the frames, so the start must be padded with zeros (not edge values).
    shifted = log_mel(np.concatenate([np.zeros(3 * CFG.hop, np.float32), x]), SAMPLE_RATE)
    np.testing.assert_array_equal(shifted[3:], log_mel(x, SAMPLE_RATE))
    np.testing.assert_array_equal(shifted[:3], np.float32(np.log(CFG.log_floor)))


def test_four_feature_frames_per_video_frame():
    assert FEATURES_PER_VIDEO_FRAME == 4
    assert log_mel(_speechlike(SAMPLES_PER_FRAME), SAMPLE_RATE).shape[0] == 4
    assert log_mel(_speechlike(SAMPLE_RATE), SAMPLE_RATE).shape[0] == 100


def test_frames_to_video_stacks_in_time_order_and_drops_partial_group():
    f = log_mel(_speechlike(SAMPLE_RATE + 3 * 160), SAMPLE_RATE)  # 103 feature frames
    v = frames_to_video(f)
    assert v.shape == (25, 320)
    for t in (0, 7, 24):
        np.testing.assert_array_equal(v[t], np.concatenate(f[4 * t : 4 * t + 4]))
    assert frames_to_video(f[:3]).shape == (0, 320)
    assert frames_to_video(f, features_per_frame=2).shape == (51, 160)


# --- streaming -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_random_chunks_equals_whole(seed):
    rng = np.random.default_rng(seed)
    x = _speechlike(3 * SAMPLE_RATE + 77, seed=seed)
    sizes = []
    while sum(sizes) < len(x):
        sizes.append(int(rng.choice([0, 1, 7, 159, 160, 161, 641, 7999, int(rng.integers(0, 5000))])))
    bounds = np.cumsum([0, *sizes])
    streamed = _stream([x[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    whole = log_mel(x, SAMPLE_RATE)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [7999, 8000, 16_000, 640])
def test_streaming_fixed_chunks_equals_whole(size):
    x = _speechlike(40_000, seed=5)
    streamed = _stream([x[i : i + size] for i in range(0, len(x), size)])
    np.testing.assert_allclose(streamed, log_mel(x, SAMPLE_RATE), rtol=0, atol=1e-5)


def test_single_sample_pushes_emit_each_frame_as_soon_as_complete():
    x = _speechlike(1_650, seed=4)
    stream = StreamingLogMel()
    outs = []
    for n in range(1, len(x) + 1):
        out = stream.push(x[n - 1 : n])
        assert out.shape == ((1, 80) if n % 160 == 0 else (0, 80)), n
        assert out.dtype == np.float32
        outs.append(out)
    np.testing.assert_allclose(np.concatenate(outs), log_mel(x, SAMPLE_RATE), rtol=0, atol=1e-5)


def test_empty_pushes_are_harmless():
    x = _speechlike(5_000, seed=6)
    empty = np.zeros(0, dtype=np.float32)
    chunks = [empty, x[:100], empty, empty, x[100:2_000], np.zeros(0, np.int16), x[2_000:], empty]
    stream = StreamingLogMel()
    assert stream.push(empty).shape == (0, 80)
    np.testing.assert_allclose(_stream(chunks), log_mel(x, SAMPLE_RATE), rtol=0, atol=1e-5)


def test_stream_keeps_only_context_plus_partial_hop():
    stream = StreamingLogMel()
    x = _speechlike(50_000, seed=7)
    pushed = 0
    for size in (3, 30_000, 1, 19_996):
        stream.push(x[pushed : pushed + size])
        pushed += size
        assert stream._buffer.size == CFG.window - CFG.hop + pushed % CFG.hop


def test_reset_starts_a_fresh_stream():
    x = _speechlike(4_000, seed=8)
    stream = StreamingLogMel()
    stream.push(_speechlike(1_234, seed=9))
    stream.reset()
    np.testing.assert_allclose(stream.push(x), log_mel(x, SAMPLE_RATE), rtol=0, atol=1e-5)


def test_bad_chunk_leaves_stream_unchanged():
    x = _speechlike(2_000, seed=10)
    stream = StreamingLogMel()
    first = stream.push(x[:1_000])
    with pytest.raises(ValueError, match="NaN or infinite"):
        stream.push(np.array([0.1, np.nan], dtype=np.float32))
    np.testing.assert_allclose(np.concatenate([first, stream.push(x[1_000:])]), log_mel(x, SAMPLE_RATE), atol=1e-5)


# --- content -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_sine_energy_lands_in_the_right_mel_band(freq):
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    f = log_mel(x, SAMPLE_RATE)
    bands = np.argmax(f[10:], axis=1)  # skip frames that overlap the zero left-padding
    assert np.all(bands == bands[0])
    centre = mel_band_centers()[bands[0]]
    assert abs(centre - freq) < 100.0, (centre, freq)


def test_band_centres_are_htk_mel_spaced():
    centres = mel_band_centers()
    mel = 2595.0 * np.log10(1.0 + centres / 700.0)
    assert centres.shape == (80,)
    assert CFG.fmin < centres[0] < centres[-1] < CFG.fmax
    np.testing.assert_allclose(np.diff(mel), np.diff(mel)[0], rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_silence_is_exactly_log_floor(dtype):
    f = log_mel(np.zeros(4_000, dtype=dtype), SAMPLE_RATE)
    assert np.all(f == np.float32(np.log(1e-5)))
    g = log_mel(np.zeros(4_000, dtype=dtype), SAMPLE_RATE, LogMelConfig(log_floor=1e-3))
    assert np.all(g == np.float32(np.log(1e-3)))


def test_int16_and_float_give_the_same_features():
    rng = np.random.default_rng(11)
    pcm = np.clip(np.round(_speechlike(9_000, seed=11) * 32767), -32768, 32767).astype(np.int16)
    pcm[rng.integers(0, len(pcm), 20)] = -32768  # full scale must map to -1.0, not wrap
    from_int = log_mel(pcm, SAMPLE_RATE)
    np.testing.assert_array_equal(from_int, log_mel(pcm.astype(np.float64) / 32768, SAMPLE_RATE))
    np.testing.assert_array_equal(from_int, log_mel((pcm / 32768).astype(np.float32), SAMPLE_RATE))
    np.testing.assert_allclose(_stream([pcm[:5_000], pcm[5_000:]]), from_int, rtol=0, atol=1e-5)


def test_louder_audio_gives_larger_features():
    x = _speechlike(8_000, seed=12)
    quiet, loud = log_mel(0.1 * x, SAMPLE_RATE), log_mel(x, SAMPLE_RATE)
    # Power scales by 100, so log-mel rises by log(100) wherever both are above the floor.
    above = (quiet > np.log(1e-5) + 1) & (loud > np.log(1e-5) + 1)
    assert above.mean() > 0.9
    np.testing.assert_allclose((loud - quiet)[above], np.log(100.0), atol=1e-3)


# --- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "rate", "match"),
    [
        (np.zeros(1_600, np.float32), 22_050, r"16000 Hz, got 22050 Hz.*eai_avatar\.runtime\.audio\.resample"),
        (np.zeros(1_600, np.float32), 16_000.0, "sample_rate must be an integer"),
        (np.zeros(0, np.float32), 16_000, "empty"),
        (np.zeros(159, np.float32), 16_000, "too short.*159 samples.*hop = 160"),
        (np.zeros((1_600, 2), np.float32), 16_000, r"mono \(1-D\)"),
        (np.zeros((), np.float32), 16_000, r"mono \(1-D\)"),
        (np.array([0.0, np.nan] * 200), 16_000, "NaN or infinite"),
        (np.array([0.0, np.inf] * 200, np.float32), 16_000, "NaN or infinite"),
        (np.zeros(1_600, np.int32), 16_000, "int16, float32 or float64.*int32"),
        (np.zeros(1_600, np.float16), 16_000, "int16, float32 or float64.*float16"),
        (np.zeros(1_600, np.complex64), 16_000, "int16, float32 or float64.*complex64"),
    ],
)
def test_log_mel_errors(samples, rate, match):
    with pytest.raises(ValueError, match=match):
        log_mel(samples, rate)


@pytest.mark.parametrize(
    ("chunk", "match"),
    [
        (np.zeros((10, 2), np.float32), r"mono \(1-D\)"),
        (np.array([np.inf], np.float64), "NaN or infinite"),
        (np.zeros(10, np.uint8), "int16, float32 or float64.*uint8"),
    ],
)
def test_push_errors(chunk, match):
    with pytest.raises(ValueError, match=match):
        StreamingLogMel().push(chunk)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hop": 500}, "hop <= window <= n_fft"),
        ({"window": 1024}, "hop <= window <= n_fft"),
        ({"hop": 0}, "hop must be a positive integer"),
        ({"window": 400.0}, "window must be a positive integer"),
        ({"n_mels": True}, "n_mels must be a positive integer"),
        ({"fmax": 9_000.0}, "fmax <= sample_rate / 2 = 8000 Hz"),
        ({"fmin": 8_000.0, "fmax": 7_000.0}, "fmin < fmax"),
        ({"fmin": float("nan")}, "fmin must be finite"),
        ({"log_floor": 0.0}, "log_floor must be > 0"),
        ({"n_mels": 200}, "fall between FFT bins"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LogMelConfig(**kwargs)


def test_features_per_video_frame_must_be_whole():
    assert _features_per_video_frame(LogMelConfig(hop=320)) == 2
    with pytest.raises(ValueError, match="whole number of feature frames per 25 fps video frame"):
        _features_per_video_frame(LogMelConfig(hop=150))


def test_frames_to_video_errors():
    with pytest.raises(ValueError, match=r"2-D \(frames, n_mels\)"):
        frames_to_video(np.zeros(8))
    with pytest.raises(ValueError, match="features_per_frame must be a positive integer"):
        frames_to_video(np.zeros((8, 80)), features_per_frame=0)
