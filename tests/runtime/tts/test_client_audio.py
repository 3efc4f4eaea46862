"""Client voice lines: validated PCM16, resampled to 16 kHz."""

import numpy as np
import pytest

from eai_avatar.runtime.tts.client_audio import speech_from_pcm16


def test_48khz_bytes_become_16khz_with_the_same_duration():
    t = np.arange(48000 * 2) / 48000
    pcm = np.round(10000 * np.sin(2 * np.pi * 300 * t)).astype("<i2")
    speech = speech_from_pcm16(pcm.tobytes(), 48000, text="hello")
    assert speech.sample_rate == 16000
    assert speech.samples.dtype == np.int16
    assert len(speech.samples) == 32000
    assert speech.duration_s == pytest.approx(2.0, abs=1e-3)
    assert speech.text == "hello" and speech.phonemes == [] and speech.words == []
    assert np.sqrt(2 * np.mean(speech.samples[200:-200].astype(np.float64) ** 2)) == pytest.approx(10000, rel=0.02)


def test_int16_array_at_16khz_passes_through():
    samples = np.arange(-800, 800, dtype=np.int16)
    speech = speech_from_pcm16(samples, 16000)
    assert np.array_equal(speech.samples, samples)


@pytest.mark.parametrize(
    "data, rate, match",
    [
        (b"\x01\x02\x03", 16000, "even"),
        (b"", 16000, "empty"),
        (np.zeros(0, dtype=np.int16), 16000, "empty"),
        (b"\x00\x00" * 100, 7999, "7999"),
        (b"\x00\x00" * 100, 96000, "96000"),
        (b"\x00\x00" * 100, 16000.0, "16000.0"),
        (np.zeros(100, dtype=np.float32), 16000, "float32"),
        (np.zeros((100, 2), dtype=np.int16), 16000, "shape"),
        ("not audio", 16000, "str"),
    ],
)
def test_invalid_client_audio(data, rate, match):
    with pytest.raises(ValueError, match=match):
        speech_from_pcm16(data, rate)


def test_more_than_ten_minutes_is_refused():
    with pytest.raises(ValueError, match="600"):
        speech_from_pcm16(np.zeros(8000 * 601, dtype=np.int16), 8000)
