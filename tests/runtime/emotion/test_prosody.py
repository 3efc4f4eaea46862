import numpy as np
import pytest

from eai_avatar.runtime.emotion.prosody import FEATURE_NAMES, prosody_features

RATE = 16_000


def _tone(freq, seconds=1.0, amplitude=0.3, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    # a voice-like tone: fundamental plus two harmonics
    wave = np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(4 * np.pi * freq * t) + 0.25 * np.sin(6 * np.pi * freq * t)
    return (amplitude * wave / 1.75).astype(np.float32)


def feature(values, name):
    return values[FEATURE_NAMES.index(name)]


def test_pitch_is_recovered():
    for freq in (110.0, 200.0, 320.0):
        values = prosody_features(_tone(freq), RATE)
        assert feature(values, "f0_mean_semitones") == pytest.approx(12 * np.log2(freq / 100), abs=0.5)
        assert feature(values, "voiced_ratio") > 0.9
        assert feature(values, "duration_s") == pytest.approx(1.0)


def test_loudness_and_pcm16_input():
    quiet, loud = prosody_features(_tone(150, amplitude=0.05), RATE), prosody_features(_tone(150, amplitude=0.5), RATE)
    assert feature(loud, "energy_mean_db") - feature(quiet, "energy_mean_db") == pytest.approx(20.0, abs=0.5)
    pcm16 = (_tone(150) * 32767).astype(np.int16)
    assert np.allclose(prosody_features(pcm16, RATE), prosody_features(_tone(150), RATE), atol=0.05)


def test_noise_is_unvoiced():
    noise = np.random.default_rng(0).normal(scale=0.1, size=RATE).astype(np.float32)
    assert feature(prosody_features(noise, RATE), "voiced_ratio") < 0.2


@pytest.mark.parametrize(
    ("audio", "rate", "match"),
    [
        (np.zeros(10, np.float32), RATE, "at least 0.1 s"),
        (np.zeros(RATE, np.float32), 4000, "sample_rate"),
        (np.zeros(RATE, np.float32), 16000.0, "sample_rate"),
        (np.zeros((2, RATE), np.float32), RATE, "mono"),
        (np.full(RATE, np.nan, np.float32), RATE, "NaN"),
    ],
)
def test_bad_audio_is_a_clear_error(audio, rate, match):
    with pytest.raises(ValueError, match=match):
        prosody_features(audio, rate)
