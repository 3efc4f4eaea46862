"""Speech augmentation: each transform changes what it says it changes, and keeps the timing the targets rely on."""

import numpy as np
import pytest

from eai_avatar.export.audio2exp.augment import (
    AugmentConfig,
    add_noise,
    augment,
    mu_law,
    reverberate,
    room_impulse,
    shift_pitch,
    telephone,
    time_stretch,
)

RATE = 16000


def voiced(seconds: float = 2.0, f0: float = 120.0) -> np.ndarray:
    """Syllables of a harmonic voice at `f0`, 0.25 s on, 0.15 s off."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return (0.2 * tone * ((t % 0.4) < 0.25)).astype(np.float32)


def pitch_of(audio: np.ndarray) -> float:
    """The fundamental of the first syllable, from its autocorrelation (60-400 Hz)."""
    piece = np.asarray(audio, np.float64)[int(0.05 * RATE) : int(0.2 * RATE)]
    correlation = np.correlate(piece, piece, "full")[len(piece) - 1 :]
    low, high = RATE // 400, RATE // 60
    return RATE / (low + int(np.argmax(correlation[low:high])))


def level_db(audio: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(audio, np.float64) ** 2) + 1e-12)


def onsets(audio: np.ndarray) -> np.ndarray:
    """Where syllables start, in seconds (20 ms frames rising above -30 dB of the peak frame)."""
    frames = np.asarray(audio, np.float64)[: len(audio) // 320 * 320].reshape(-1, 320)
    loud = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    on = loud > loud.max() - 30
    return np.flatnonzero(on[1:] & ~on[:-1]) * 0.02 + 0.02


@pytest.mark.parametrize("semitones", [-5.0, -2.0, 3.0, 5.0])
def test_pitch_moves_by_the_semitones_and_the_timing_stays(semitones):
    clean = voiced()
    shifted = shift_pitch(clean, semitones)
    assert len(shifted) == len(clean)
    assert pitch_of(shifted) / pitch_of(clean) == pytest.approx(2 ** (semitones / 12), rel=0.03)
    assert np.allclose(onsets(shifted), onsets(clean), atol=0.041)  # same syllables, same times (a frame or two)


@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_tempo_scales_the_timing_and_keeps_the_pitch(factor):
    clean = voiced()
    faster = time_stretch(clean, factor)
    assert len(faster) == round(len(clean) / factor)
    assert pitch_of(faster) == pytest.approx(pitch_of(clean), rel=0.03)
    assert np.allclose(onsets(faster), onsets(clean) / factor, atol=0.041)


def test_a_room_keeps_length_peak_and_onsets_and_fills_the_gaps():
    clean = voiced()
    wet = reverberate(clean, room_impulse(0.6, np.random.default_rng(0)))
    assert len(wet) == len(clean) and np.max(np.abs(wet)) == pytest.approx(np.max(np.abs(clean)), rel=1e-4)
    gap = slice(int(0.27 * RATE), int(0.38 * RATE))  # between the first two syllables
    assert level_db(clean[gap]) < -100 < level_db(wet[gap])  # the room's tail rings into the pause
    burst = np.random.default_rng(2).standard_normal(RATE).astype(np.float32)  # broadband: one clear peak
    wet = reverberate(burst, room_impulse(0.6, np.random.default_rng(0)))
    lags = np.arange(-80, 81)
    likeness = [np.dot(burst[100:-100], wet[100 + lag : len(wet) - 100 + lag]) for lag in lags]
    assert lags[int(np.argmax(likeness))] == 0  # the direct sound is not delayed: the timing holds


@pytest.mark.parametrize("kind", ["white", "pink", "speech"])
def test_noise_lands_at_the_asked_snr(kind):
    clean = voiced()
    noisy = add_noise(clean, 10.0, kind, np.random.default_rng(1))
    added = noisy - clean
    speaking = clean[(np.arange(len(clean)) / RATE % 0.4) < 0.25]
    assert level_db(speaking) - level_db(added) == pytest.approx(10.0, abs=1.0)


def test_a_phone_line_cuts_the_band_and_the_codec_quantizes():
    t = np.arange(RATE) / RATE
    low, mid, high = (np.sin(2 * np.pi * f * t) * 0.3 for f in (150, 1000, 5000))
    assert level_db(telephone(mid)) == pytest.approx(level_db(mid), abs=0.5)
    assert level_db(telephone(low)) < level_db(low) - 30 and level_db(telephone(high)) < level_db(high) - 30
    coded = mu_law(mid)
    assert 0 < np.max(np.abs(coded - mid)) < 0.02 and len(np.unique(coded)) <= 256


def test_augment_is_seeded_returns_int16_and_its_time_scale_matches_the_length():
    clean = (voiced() * 32767).astype(np.int16)
    config = AugmentConfig(tempo_probability=1.0)
    first, scale = augment(clean, np.random.default_rng(7), config)
    again, same_scale = augment(clean, np.random.default_rng(7), config)
    assert first.dtype == np.int16 and np.array_equal(first, again) and scale == same_scale
    assert len(first) == pytest.approx(len(clean) * scale, abs=1) and scale != 1.0
    levels = [level_db(augment(clean, np.random.default_rng(seed))[0].astype(np.float32) / 32768) for seed in range(12)]
    assert np.ptp(levels) > 10  # loudness varies widely: the model must not read it as an open jaw


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="mono"):
        shift_pitch(np.zeros((2, 100), np.float32), 2.0)
    with pytest.raises(ValueError, match="factor"):
        time_stretch(voiced(), 10.0)
