"""Audio prosody features: how something is said (pitch, loudness, voicing), a modality that fuses into
the emotion recognizer for a human's voice (the paper's C(text, audio, video))."""

from __future__ import annotations

import numpy as np

FEATURE_NAMES = (
    "f0_mean_semitones",  # mean pitch of voiced frames, semitones above 100 Hz
    "f0_std_semitones",  # pitch variability
    "f0_range_semitones",  # 90th minus 10th percentile pitch
    "energy_mean_db",  # mean frame RMS, dB full scale
    "energy_std_db",
    "voiced_ratio",  # share of frames with a pitch
    "zero_crossing_rate",  # mean per-sample sign changes (breathiness, fricatives)
    "duration_s",
)
MIN_F0_HZ, MAX_F0_HZ = 60.0, 500.0


def _as_float_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    if not isinstance(sample_rate, int) or not 8_000 <= sample_rate <= 48_000:
        raise ValueError(f"sample_rate must be an integer in 8000..48000 Hz, got {sample_rate!r}")
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono (one dimension), got shape {audio.shape}")
    if audio.size < sample_rate // 10:
        raise ValueError(f"audio must be at least 0.1 s long, got {audio.size} samples at {sample_rate} Hz")
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    audio = audio.astype(np.float32)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or infinite samples")
    return audio


def prosody_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """FEATURE_NAMES as a float32 vector, from PCM16 (int16) or float audio in [-1, 1]."""
    audio = _as_float_audio(audio, sample_rate)
    frame, hop = int(0.040 * sample_rate), int(0.010 * sample_rate)
    count = 1 + max(0, (audio.size - frame) // hop)
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::hop][:count]
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    energy_db = 20 * np.log10(rms + 1e-9)
    zcr = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)

    # Pitch by normalized autocorrelation of each loud-enough frame (a frame is voiced when the best lag
    # in the 60-500 Hz range correlates above 0.5).
    min_lag, max_lag = int(sample_rate / MAX_F0_HZ), min(int(sample_rate / MIN_F0_HZ), frame - 1)
    loud = energy_db > energy_db.max() - 35
    centered = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centered, n=2 * frame, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :frame]
    autocorr /= np.maximum(autocorr[:, :1], 1e-12)
    lags = np.argmax(autocorr[:, min_lag:max_lag], axis=1) + min_lag
    peak = autocorr[np.arange(count), lags]
    voiced = loud & (peak > 0.5)
    f0 = sample_rate / lags[voiced]
    semitones = 12 * np.log2(f0 / 100.0) if f0.size else np.zeros(1)
    return np.array(
        [
            semitones.mean(),
            semitones.std(),
            np.percentile(semitones, 90) - np.percentile(semitones, 10),
            energy_db.mean(),
            energy_db.std(),
            voiced.mean(),
            zcr.mean(),
            audio.size / sample_rate,
        ],
        dtype=np.float32,
    )


class ProsodyEncoder:
    """The `audio` modality of the recognizer: `encode(audio=..., sample_rate=...)` -> prosody features."""

    name = "audio"
    feature_name = "prosody-v1/" + ",".join(FEATURE_NAMES)
    dim = len(FEATURE_NAMES)

    def encode(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return prosody_features(audio, sample_rate)
