"""The numpy resampler: frequency, amplitude, length, dtype and alignment survive a rate change."""

import numpy as np
import pytest

from eai_avatar.runtime.audio import resample


def _sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_1khz_sine_keeps_frequency_amplitude_and_length():
    x = _sine(1000.0, 22050, 1.0)
    y = resample(x, 22050, 16000)
    assert abs(len(y) - round(len(x) * 16000 / 22050)) <= 1
    assert y.dtype == np.float64
    assert abs(_peak_hz(y, 16000) - 1000.0) <= 2.0  # FFT bin is 1 Hz
    steady = y[400:-400]  # away from the filter's edge transients
    amplitude = np.sqrt(2 * np.mean(steady**2))
    assert amplitude == pytest.approx(0.5, rel=0.02)


def test_int16_in_int16_out_and_clipped():
    x = np.round(_sine(1000.0, 22050, 0.5, amplitude=32767)).astype(np.int16)
    y = resample(x, 22050, 16000)
    assert y.dtype == np.int16
    assert abs(len(y) - round(len(x) * 16000 / 22050)) <= 1
    assert np.abs(y.astype(np.int32)).max() >= 32000  # full scale in, full scale out
    assert np.sqrt(2 * np.mean(y[400:-400].astype(np.float64) ** 2)) == pytest.approx(32767, rel=0.02)
    # A full-scale square wave rings past full scale after filtering: it must clip, not wrap around.
    square = np.where(np.arange(22050) % 40 < 20, 32767, -32768).astype(np.int16)
    out = resample(square, 22050, 16000)
    assert out.dtype == np.int16
    assert out.max() == 32767 and out.min() == -32768


def test_float32_stays_float32_and_aliasing_is_removed():
    x = _sine(10_000.0, 22050, 0.5).astype(np.float32)  # above the 8 kHz Nyquist frequency of 16 kHz
    y = resample(x, 22050, 16000)
    assert y.dtype == np.float32
    assert np.sqrt(np.mean(y[400:-400].astype(np.float64) ** 2)) < 1e-3


def test_time_alignment_and_upsampling():
    impulse = np.zeros(22050)
    impulse[11025] = 1.0
    assert int(np.argmax(resample(impulse, 22050, 16000))) == 8000  # zero-phase: 0.5 s stays at 0.5 s
    y = resample(_sine(440.0, 8000, 1.0), 8000, 16000)
    assert len(y) == 16000
    assert abs(_peak_hz(y, 16000) - 440.0) <= 2.0


def test_same_rate_and_empty():
    x = np.arange(10, dtype=np.int16)
    y = resample(x, 16000, 16000)
    assert y is not x and np.array_equal(x, y)
    assert resample(np.zeros(0, dtype=np.int16), 48000, 16000).shape == (0,)


@pytest.mark.parametrize(
    "samples, from_rate, to_rate",
    [
        (np.zeros((10, 2)), 22050, 16000),
        (np.zeros(10, dtype=np.int32), 22050, 16000),
        (np.zeros(10), 0, 16000),
        (np.zeros(10), 22050, 16000.0),
    ],
)
def test_bad_input(samples, from_rate, to_rate):
    with pytest.raises(ValueError):
        resample(samples, from_rate, to_rate)
