"""A streaming voice activity detector in numpy: where a human's speech starts and ends in audio that arrives live.

The session stream needs to know when a human has started talking (the agent stops and listens) and when they
have finished (the utterance goes to the recognizer), before the client says so, and without a model: each 20 ms
frame gets an energy and a periodicity, and a small state machine turns them into events.

- Both come from 60 ms around the frame (the frame before and after it, Hann-windowed: one frame of look-ahead).
  Energy is the 100 Hz-4 kHz band, so rumble and a 50/60 Hz hum's fundamental do not count and a steady hum
  gives a steady level. Periodicity is the autocorrelation peak at pitch lags (60-400 Hz) of the 70 Hz-2 kHz band,
  past its first zero crossing, so hiss, fans and clicks, which have energy but no pitch, never start speech.
- The noise floor falls quickly to a quieter background and rises over `noise_adapt_s` to a louder one, so a
  steady fan or hum becomes the floor. A level that stays within 3 dB for a second while "speaking" is a machine
  (a hum switched on): it becomes the floor and ends that speech.
- Speech starts once `start_ms` of voiced frames (loud above the floor, and periodic) fall within three times that
  span; the event's sample walks back from the first of them over the loud frames before it (a fricative, a stop's
  closure, at most `preroll_ms`) to the onset. It ends after `end_silence_ms` of frames back near the floor; the
  event's sample is the first of those frames.

Frames sit at fixed offsets from the stream's start and all state changes once per frame, so any split of the
same audio into chunks gives the same events. Cost: about 2 ms per second of audio on one core.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

from eai_avatar.vocabulary import MAX_CLIENT_SAMPLE_RATE, MIN_CLIENT_SAMPLE_RATE, SAMPLE_RATE

#: Pitch range searched for voicing, Hz: low male voices to high female and child voices.
PITCH_RANGE_HZ = (60.0, 400.0)
#: Energy of an all-zero frame, dBFS; the floor never goes below it.
SILENCE_DB = -100.0
#: Band of the energy a frame is judged by, Hz, and of the spectrum its periodicity is measured in.
ENERGY_BAND_HZ = (100.0, 4000.0)
VOICING_BAND_HZ = (70.0, 2000.0)
#: Frames analysed together, the judged one in the middle: one frame of look-ahead.
_WINDOW_FRAMES = 3
#: Speech starts when `start_ms` of voiced frames fall within this many times `start_ms`: a short first syllable
#: and a stop's closure ("Stop right there") still count, a lone click or bump never does.
_START_WINDOW = 3
#: The longest quiet gap inside a word's beginning that the onset's walk back crosses, ms ("st" in "Stop").
_CLOSURE_MS = 40
#: A level steadier than this (max - min, dB) for this long while "speaking" is a machine, not a voice.
_STEADY_DB = 3.0
_STEADY_S = 1.0
#: How fast the floor follows a quieter background down, seconds (a pause between words is enough).
_FLOOR_FALL_S = 0.05
#: While speech goes on, loud frames still lift the floor, this many times more slowly than `noise_adapt_s`, so a
#: noise that starts mid-sentence cannot hold speech open for ever.
_SPEECH_ADAPT_FACTOR = 10.0


@dataclass(frozen=True)
class VadEvent:
    """Speech started or ended at `sample`, counted from the first sample pushed after the last `reset`."""

    kind: Literal["start", "end"]
    sample: int


@dataclass(frozen=True)
class _Frame:
    start: int  # its first sample
    loud: bool  # above the floor by offset_margin_db: part of speech once speech has started
    voiced: bool  # above the floor by onset_margin_db, and periodic


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class VoiceActivityDetector:
    """Push int16 mono audio as it arrives; get `VadEvent`s where speech starts and ends.

    `onset_margin_db` (how far above the noise floor a voiced frame must be), `offset_margin_db` (within how much
    of the floor a frame counts as silence), `min_speech_db` (nothing quieter, in dBFS, is speech, however quiet the
    room), `voicing_threshold` (the periodicity, 0-1, of a voiced frame) and `noise_adapt_s` (how fast the floor
    rises to a louder background) tune it; the defaults suit a close microphone at 16 kHz.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        frame_ms: float = 20,
        start_ms: float = 100,
        end_silence_ms: float = 500,
        preroll_ms: float = 200,
        onset_margin_db: float = 9.0,
        offset_margin_db: float = 5.0,
        min_speech_db: float = -55.0,
        voicing_threshold: float = 0.45,
        noise_adapt_s: float = 2.0,
    ):
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer):
            raise ValueError(f"sample_rate must be an integer in Hz, got {sample_rate!r}")
        if not MIN_CLIENT_SAMPLE_RATE <= sample_rate <= MAX_CLIENT_SAMPLE_RATE:
            raise ValueError(
                f"sample_rate must be {MIN_CLIENT_SAMPLE_RATE}..{MAX_CLIENT_SAMPLE_RATE} Hz, got {sample_rate}"
            )
        self.sample_rate = int(sample_rate)
        frame_ms = _positive("frame_ms", frame_ms)
        self.frame_length = round(self.sample_rate * frame_ms / 1000)
        # The analysis window (three frames) must hold two periods of the lowest pitch.
        if not 12 <= frame_ms <= 50:
            raise ValueError(f"frame_ms must be 12..50 ms, got {frame_ms!r}")
        self.frame_ms = 1000 * self.frame_length / self.sample_rate
        self.start_frames = max(1, round(_positive("start_ms", start_ms) / self.frame_ms))
        self.start_window = _START_WINDOW * self.start_frames
        self._gap_frames = round(_CLOSURE_MS / self.frame_ms)
        self._steady_frames = round(_STEADY_S * 1000 / self.frame_ms)
        self.end_frames = max(1, round(_positive("end_silence_ms", end_silence_ms) / self.frame_ms))
        if isinstance(preroll_ms, bool) or not isinstance(preroll_ms, int | float) or not 0 <= preroll_ms <= 2000:
            raise ValueError(f"preroll_ms must be 0..2000 ms, got {preroll_ms!r}")
        self.preroll_frames = round(preroll_ms / self.frame_ms)
        self.onset_margin_db = _positive("onset_margin_db", onset_margin_db)
        self.offset_margin_db = _positive("offset_margin_db", offset_margin_db)
        if self.offset_margin_db > self.onset_margin_db:
            raise ValueError(
                f"offset_margin_db ({offset_margin_db!r}) must not exceed onset_margin_db ({onset_margin_db!r})"
            )
        if (
            isinstance(min_speech_db, bool)
            or not isinstance(min_speech_db, int | float)
            or not -90 <= min_speech_db <= 0
        ):
            raise ValueError(f"min_speech_db must be -90..0 dBFS, got {min_speech_db!r}")
        self.min_speech_db = float(min_speech_db)
        if isinstance(voicing_threshold, bool) or not isinstance(voicing_threshold, int | float):
            raise ValueError(f"voicing_threshold must be a number in (0, 1), got {voicing_threshold!r}")
        if not 0 < voicing_threshold < 1:
            raise ValueError(f"voicing_threshold must be in (0, 1), got {voicing_threshold!r}")
        self.voicing_threshold = float(voicing_threshold)
        self.noise_adapt_s = _positive("noise_adapt_s", noise_adapt_s)
        frame_s = self.frame_length / self.sample_rate
        self._fall = 1.0 - math.exp(-frame_s / _FLOOR_FALL_S)
        self._rise = 1.0 - math.exp(-frame_s / self.noise_adapt_s)
        self._rise_in_speech = 1.0 - math.exp(-frame_s / (self.noise_adapt_s * _SPEECH_ADAPT_FACTOR))
        self._min_lag = max(1, math.floor(self.sample_rate / PITCH_RANGE_HZ[1]))
        self._max_lag = math.ceil(self.sample_rate / PITCH_RANGE_HZ[0])
        window = _WINDOW_FRAMES * self.frame_length
        self._window = np.hanning(window + 2)[1:-1]
        self._fft_size = 1 << (window + self._max_lag).bit_length()
        # One-sided power over the band, scaled so that white noise gives its mean square.
        self._energy_scale = 2.0 / (self._fft_size * float(np.sum(self._window**2)))
        hz = np.fft.rfftfreq(self._fft_size, 1.0 / self.sample_rate)
        self._energy_bins = slice(*(int(np.searchsorted(hz, f)) for f in ENERGY_BAND_HZ))
        self._voicing_bins = slice(*(int(np.searchsorted(hz, f)) for f in VOICING_BAND_HZ))
        w = np.fft.rfft(self._window, self._fft_size)
        window_ac = np.fft.irfft(np.abs(w) ** 2, self._fft_size)[: self._max_lag + 1]
        self._window_ac = window_ac / window_ac[0]
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample pushed is sample 0 of a new stream, with a new noise floor."""
        self._pending = np.zeros(0, np.int16)
        self._history = np.zeros(_WINDOW_FRAMES * self.frame_length, np.float64)  # the frames analysed
        self._frames_in = 0  # whole frames pushed
        self._floor_db: float | None = None
        self._in_speech = False
        self._recent: deque[_Frame] = deque(maxlen=self.start_window + self.preroll_frames)
        self._silent_run = 0  # consecutive quiet frames while in speech
        self._loud_frames = 0  # loud frames in speech so far, ever (a counter: "was anything said since?")
        self._speech_start = 0
        self._levels: deque[float] = deque(maxlen=self._steady_frames)  # energies since speech started, dB

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not yet ended."""
        return self._in_speech

    @property
    def noise_floor_db(self) -> float | None:
        """The background level now, in dBFS (None before the first frame)."""
        return self._floor_db

    @property
    def quiet_ms(self) -> float:
        """How long the speech now going on has been quiet (0 outside speech): its pauses, as it judges them."""
        return self._silent_run * self.frame_ms if self._in_speech else 0.0

    @property
    def loud_frames(self) -> int:
        """Loud frames of speech since the last reset: unchanged between two moments means nothing was said."""
        return self._loud_frames

    @property
    def samples_seen(self) -> int:
        """Samples pushed since the last reset (those of a partial frame included)."""
        return self._frames_in * self.frame_length + len(self._pending)

    def push(self, samples: np.ndarray) -> list[VadEvent]:
        """The events the frames completed by `samples` produce, in order. int16 mono only (ValueError else)."""
        if not isinstance(samples, np.ndarray) or samples.dtype != np.int16 or samples.ndim != 1:
            shape = getattr(samples, "shape", None)
            raise ValueError(
                f"samples must be a 1-D int16 numpy array, got {type(samples).__name__} "
                f"{getattr(samples, 'dtype', '')} {shape if shape is not None else ''}".rstrip()
            )
        pending = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        whole = len(pending) // self.frame_length * self.frame_length
        events: list[VadEvent] = []
        for offset in range(0, whole, self.frame_length):
            event = self._step(pending[offset : offset + self.frame_length])
            if event is not None:
                events.append(event)
        self._pending = pending[whole:].copy()
        return events

    def _analyse(self) -> tuple[float, float]:
        """Energy (dBFS, 100 Hz-4 kHz) and periodicity (0-1) of the three frames held, Hann-windowed.

        60 ms resolve a 50 Hz hum from the band's edge, so a steady hum gives a steady energy. Periodicity is the
        peak autocorrelation at pitch lags of the 70 Hz-2 kHz band, corrected for the window as Boersma's pitch
        tracker does, searched past the first zero crossing; 0 for silence.
        """
        spectrum = np.fft.rfft(self._history * self._window, self._fft_size)
        power = spectrum.real**2 + spectrum.imag**2
        mean_square = float(np.sum(power[self._energy_bins])) * self._energy_scale
        energy_db = max(SILENCE_DB, 10.0 * math.log10(mean_square + 1e-12))
        band = np.zeros_like(power)
        band[self._voicing_bins] = power[self._voicing_bins]
        ac = np.fft.irfft(band, self._fft_size)[: self._max_lag + 1]
        if ac[0] <= 1e-12:
            return energy_db, 0.0
        r = ac / ac[0] / self._window_ac
        negative = np.flatnonzero(r[1:] <= 0)
        if len(negative) == 0:
            return energy_db, 0.0  # never decorrelates within the pitch range: not a voice
        low = max(self._min_lag, int(negative[0]) + 1)
        if low > self._max_lag:
            return energy_db, 0.0
        return energy_db, float(np.clip(r[low:].max(), 0.0, 1.0))

    def _step(self, frame: np.ndarray) -> VadEvent | None:
        """One frame in: the frame before it (now centred in the window) is classified against the floor as it
        stood, the state advances, then the floor moves."""
        self._history = np.concatenate([self._history[self.frame_length :], frame.astype(np.float64) / 32768.0])
        self._frames_in += 1
        if self._frames_in < 2:
            return None  # the first frame is judged once the one after it has arrived
        energy_db, periodicity = self._analyse()
        if self._floor_db is None:
            self._floor_db = energy_db
        floor = self._floor_db
        loud = energy_db > max(floor + self.offset_margin_db, self.min_speech_db - self.onset_margin_db)
        voiced = energy_db > max(floor + self.onset_margin_db, self.min_speech_db) and (
            periodicity >= self.voicing_threshold
        )
        current = _Frame((self._frames_in - 2) * self.frame_length, loud, voiced)
        self._recent.append(current)
        event = self._advance(current, energy_db)
        floor = self._floor_db  # a steady level may just have become the floor
        if energy_db < floor:
            step = self._fall
        else:
            step = self._rise_in_speech if self._in_speech and loud else self._rise
        self._floor_db = floor + step * (energy_db - floor)
        return event

    def _advance(self, current: _Frame, energy_db: float) -> VadEvent | None:
        if self._in_speech:
            self._silent_run = 0 if current.loud else self._silent_run + 1
            self._loud_frames += current.loud
            self._levels.append(energy_db)
            if len(self._levels) == self._levels.maxlen and max(self._levels) - min(self._levels) < _STEADY_DB:
                # A level that has not moved for a second is a machine (a hum switched on), never a voice, whose
                # syllables come and go several times a second: it becomes the floor and the "speech" ends.
                self._floor_db = float(np.median(self._levels))
                end = max(self._speech_start, current.start - (len(self._levels) - 1) * self.frame_length)
            elif self._silent_run >= self.end_frames:
                end = current.start - (self.end_frames - 1) * self.frame_length
            else:
                return None
            self._in_speech, self._silent_run = False, 0
            self._recent.clear()  # the next onset walks back no further than this end
            return VadEvent("end", end)
        frames = list(self._recent)
        window = frames[-self.start_window :]
        if not current.voiced or sum(f.voiced for f in window) < self.start_frames:
            return None
        # From the window's first voiced frame, walk back over the loud frames before it (the soft beginning: a
        # fricative, a breath), across gaps as short as a stop's closure, at most `preroll_ms`.
        first = len(frames) - len(window) + next(i for i, f in enumerate(window) if f.voiced)
        gap = 0
        for k in range(first - 1, max(0, first - self.preroll_frames) - 1, -1):
            if frames[k].loud:
                first, gap = k, 0
            elif gap < self._gap_frames:
                gap += 1
            else:
                break
        self._in_speech, self._silent_run, self._speech_start = True, 0, frames[first].start
        self._levels.clear()
        return VadEvent("start", frames[first].start)
