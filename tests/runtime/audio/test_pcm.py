"""The one audio entry point: client PCM16 validated, resampled to 16 kHz, whole or streamed."""

import numpy as np
import pytest

from eai_avatar.runtime.audio.pcm import PcmStream, speech_from_pcm16
from eai_avatar.runtime.audio.resample import resample
from eai_avatar.runtime.errors import LimitExceeded


def test_48khz_bytes_become_16khz_with_the_same_duration():
    t = np.arange(48000 * 2) / 48000
    pcm = np.round(10000 * np.sin(2 * np.pi * 300 * t)).astype("<i2")
    speech = speech_from_pcm16(pcm.tobytes(), 48000, 60, text="hello")
    assert speech.sample_rate == 16000
    assert speech.samples.dtype == np.int16
    assert len(speech.samples) == 32000
    assert speech.duration_s == pytest.approx(2.0, abs=1e-3)
    assert speech.text == "hello" and speech.phonemes == [] and speech.words == []
    assert np.sqrt(2 * np.mean(speech.samples[200:-200].astype(np.float64) ** 2)) == pytest.approx(10000, rel=0.02)


def test_int16_array_at_16khz_passes_through():
    samples = np.arange(-800, 800, dtype=np.int16)
    speech = speech_from_pcm16(samples, 16000, 60)
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
        speech_from_pcm16(data, rate, 60)


def test_more_than_the_limit_is_refused_as_a_limit():
    with pytest.raises(LimitExceeded, match="60 s limit"):
        speech_from_pcm16(np.zeros(8000 * 61, dtype=np.int16), 8000, 60)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_a_stream_in_any_chunks_equals_the_whole_resampled(rate):
    rng = np.random.default_rng(rate)
    samples = (rng.standard_normal(rate // 2) * 4000).astype(np.int16)
    stream, pieces, start = PcmStream(rate), [], 0
    for size in [1, 7, 160, 3, rate // 10, 999, 10_000]:
        pieces.append(stream.push(samples[start : start + size]))
        start += size
    pieces.append(stream.push(samples[start:]))
    pieces.append(stream.finish())
    assert stream.client_samples == len(samples)
    assert np.array_equal(np.concatenate(pieces), resample(samples, rate, 16000))
    # Output leaves as its input arrives: never more than the filter's few milliseconds behind.
    assert sum(len(p) for p in pieces[:-1]) >= (len(samples) * 16000 // rate) - 16000 * 0.005
