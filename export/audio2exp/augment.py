"""Speech augmentation for Audio2Exp: the same words as other voices, rooms, microphones and lines would carry them.

A lip-sync model trained on clean synthetic speech learns the synthesizer: its pitch, its loudness, its spectrum.
Each transform here changes one thing a real voice or channel changes and keeps what the mouth depends on (which
sound is made when), so the targets stay those of the clean utterance. Only the tempo moves the timing; every
transform returns the factor the phone times are multiplied by.

    pitch       resample + time-stretch back: a higher or lower voice, same timing
    tempo       time-stretch (WSOLA): faster or slower speech, same pitch; times scale
    loudness    a gain in dB (log-mel features shift by it: the model must not read loudness as an open jaw)
    room        a synthetic impulse response (exponential decay, RT60 0.15-0.8 s) with its direct path at 0
    noise       white, pink or speech-shaped noise at an SNR
    telephone   300-3400 Hz at 8 kHz, back to 16 kHz
    codec       G.711 mu-law, 8 bits a sample

All of it is numpy, seeded by the caller's Generator, on 16 kHz float32 or int16 mono audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.audio import resample
from eai_avatar.vocabulary import SAMPLE_RATE


@dataclass(frozen=True)
class AugmentConfig:
    """How often each transform is applied to an utterance, and its range."""

    pitch_probability: float = 0.6
    pitch_semitones: tuple[float, float] = (-5.0, 5.0)
    tempo_probability: float = 0.5
    tempo_range: tuple[float, float] = (0.8, 1.25)  # >1: faster
    loudness_db: tuple[float, float] = (-24.0, 6.0)  # always applied
    room_probability: float = 0.35
    rt60_range_s: tuple[float, float] = (0.15, 0.8)
    noise_probability: float = 0.4
    snr_range_db: tuple[float, float] = (5.0, 30.0)
    telephone_probability: float = 0.15
    codec_probability: float = 0.15


def _float(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"augmentation takes mono audio (1-D), got shape {samples.shape}")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32)


def _int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)


def time_stretch(samples: np.ndarray, factor: float, frame_ms: float = 30.0) -> np.ndarray:
    """WSOLA: the audio played `factor` times faster (len / factor samples) at the same pitch.

    Frames of `frame_ms` are overlap-added at half a frame's hop of the output; each is taken from near where the
    input should be, shifted by up to a quarter frame to the place most like the continuation of the last one, so
    the waveform stays periodic across the joins (no phasiness, no clicks).
    """
    if not 0.25 <= factor <= 4.0:
        raise ValueError(f"a time-stretch factor must be 0.25..4, got {factor!r}")
    audio = _float(samples)
    frame = int(SAMPLE_RATE * frame_ms / 1000) // 2 * 2
    hop = frame // 2
    tolerance = frame // 4
    window = np.hanning(frame).astype(np.float32)
    out_length = int(round(len(audio) / factor))
    if len(audio) < frame or out_length < frame:  # too short to stretch: a plain change of speed does
        positions = np.linspace(0, max(0, len(audio) - 1), out_length)
        return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32) if len(audio) else audio
    padded = np.concatenate([np.zeros(tolerance, np.float32), audio, np.zeros(frame + tolerance, np.float32)])
    out = np.zeros(out_length + frame, np.float32)
    norm = np.zeros_like(out)
    natural = np.zeros(frame, np.float32)  # what the last frame continues into, in the input
    for k, position in enumerate(range(0, out_length, hop)):
        centre = int(round(position * factor)) + tolerance
        if k == 0:
            shift = 0
        else:
            region = padded[centre - tolerance : centre + tolerance + frame]
            scores = np.correlate(region, natural[:hop], mode="valid")[: 2 * tolerance + 1]
            shift = int(np.argmax(scores)) - tolerance
        start = centre + shift
        piece = padded[start : start + frame]
        out[position : position + frame] += piece * window
        norm[position : position + frame] += window
        natural = padded[start + hop : start + hop + frame]
        if len(natural) < frame:
            natural = np.pad(natural, (0, frame - len(natural)))
    out = out[:out_length] / np.maximum(norm[:out_length], 1e-3)
    return out.astype(np.float32)


def shift_pitch(samples: np.ndarray, semitones: float) -> np.ndarray:
    """The voice `semitones` higher (or lower), same length and timing: stretched, then resampled back."""
    ratio = 2.0 ** (semitones / 12.0)
    audio = _float(samples)
    # Rates in steps of 100 Hz keep the resampler's polyphase filter small (a semitone step is not one of them).
    faster = int(round(SAMPLE_RATE * ratio / 100)) * 100
    stretched = time_stretch(audio, SAMPLE_RATE / faster)  # longer by the ratio, same pitch
    shifted = resample(stretched, faster, SAMPLE_RATE)  # played faster: back to the length, higher
    return _fit(shifted, len(audio))


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    if len(audio) >= length:
        return audio[:length]
    return np.concatenate([audio, np.zeros(length - len(audio), np.float32)])


def room_impulse(rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room: the direct sound at 0, a few early reflections, then a diffuse tail decaying 60 dB in
    `rt60_s`."""
    length = int(SAMPLE_RATE * min(1.2, 1.2 * rt60_s))
    times = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.9 * times / rt60_s) * 0.25
    tail[: int(0.005 * SAMPLE_RATE)] = 0.0  # the first reflections come after 5 ms
    impulse = tail
    impulse[0] = 1.0
    for _ in range(4):
        delay = int(rng.uniform(0.004, 0.03) * SAMPLE_RATE)
        impulse[delay] += rng.uniform(0.2, 0.6) * rng.choice((-1.0, 1.0))
    return (impulse / np.sqrt(np.sum(impulse**2))).astype(np.float32)


def reverberate(samples: np.ndarray, impulse: np.ndarray) -> np.ndarray:
    """The audio in the room of `impulse` (same length: the tail past the end is cut), at the same peak level."""
    audio = _float(samples)
    size = 1 << (len(audio) + len(impulse)).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(impulse, size), size)[: len(audio)]
    peak = np.max(np.abs(wet)) if len(wet) else 0.0
    return (wet * (np.max(np.abs(audio)) / peak) if peak > 0 else wet).astype(np.float32)


def noise(length: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: "white", "pink" (1/f) or "speech" (pink, low-passed near 4 kHz like a crowd's babble)."""
    white = rng.standard_normal(length)
    if kind == "white":
        shaped = white
    elif kind in ("pink", "speech"):
        spectrum = np.fft.rfft(white)
        hz = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
        gain = 1.0 / np.sqrt(np.maximum(hz, 20.0))
        if kind == "speech":
            gain *= 1.0 / (1.0 + (hz / 4000.0) ** 4)
            gain *= hz > 80
        shaped = np.fft.irfft(spectrum * gain, length)
    else:
        raise ValueError(f"noise kind must be white, pink or speech, got {kind!r}")
    return (shaped / max(float(np.sqrt(np.mean(shaped**2))), 1e-9)).astype(np.float32)


def add_noise(samples: np.ndarray, snr_db: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Noise at `snr_db` below the speech's level (its RMS over the louder half of 20 ms frames)."""
    audio = _float(samples)
    frame = SAMPLE_RATE // 50
    count = len(audio) // frame
    if count == 0:
        return audio
    levels = np.sqrt(np.mean(audio[: count * frame].reshape(count, frame) ** 2, axis=1))
    speech = float(np.mean(np.sort(levels)[count // 2 :])) if count else 0.0
    if speech <= 0:
        return audio
    return (audio + noise(len(audio), kind, rng) * speech * 10 ** (-snr_db / 20)).astype(np.float32)


def telephone(samples: np.ndarray) -> np.ndarray:
    """A phone line: 300-3400 Hz, through 8 kHz, back at 16 kHz."""
    audio = _float(samples)
    spectrum = np.fft.rfft(audio)
    hz = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
    spectrum *= (hz >= 300) & (hz <= 3400)
    band = np.fft.irfft(spectrum, len(audio)).astype(np.float32)
    return _fit(resample(resample(band, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE), len(audio))


def mu_law(samples: np.ndarray, bits: int = 8) -> np.ndarray:
    """G.711-style companding to `bits` bits a sample and back (the coarse quantization of a cheap codec)."""
    audio = np.clip(_float(samples), -1.0, 1.0)
    mu = 255.0
    compressed = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    quantized = np.round(compressed * levels) / levels
    return (np.sign(quantized) * np.expm1(np.abs(quantized) * np.log1p(mu)) / mu).astype(np.float32)


def augment(
    samples: np.ndarray, rng: np.random.Generator, config: AugmentConfig = AugmentConfig()
) -> tuple[np.ndarray, float]:
    """One random variant of an utterance: (int16 audio, the factor its phone times are multiplied by)."""
    config = config or AugmentConfig()
    audio = _float(samples)
    time_scale = 1.0
    if rng.random() < config.pitch_probability:
        audio = shift_pitch(audio, rng.uniform(*config.pitch_semitones))
    if rng.random() < config.tempo_probability:
        factor = float(np.exp(rng.uniform(*np.log(config.tempo_range))))
        audio = time_stretch(audio, factor)
        time_scale = 1.0 / factor
    if rng.random() < config.room_probability:
        audio = reverberate(audio, room_impulse(rng.uniform(*config.rt60_range_s), rng))
    if rng.random() < config.noise_probability:
        audio = add_noise(audio, rng.uniform(*config.snr_range_db), str(rng.choice(["white", "pink", "speech"])), rng)
    if rng.random() < config.telephone_probability:
        audio = telephone(audio)
    if rng.random() < config.codec_probability:
        audio = mu_law(audio)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0:  # loudness last: a level relative to full scale, whatever came before
        audio = audio / peak * 0.5 * 10 ** (rng.uniform(*config.loudness_db) / 20)
    return _int16(audio), time_scale
