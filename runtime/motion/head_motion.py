"""Stochastic head motion for speaking and listening: Ornstein-Uhlenbeck drift plus nod and tilt events.

A still head reads as a photograph and a random walk drifts off the frame, so each pose axis is a mean-reverting
Ornstein-Uhlenbeck process around the neutral pose, smoothed by a one-pole low-pass so that velocity is
continuous (raw OU paths are jittery at 25 fps). Discrete gestures ride on top as smooth bumps: nods (pitch,
with the matching small vertical shift) and tilts (roll). Talkers move more and faster and nod on stressed
syllables; listeners drift slowly and give occasional backchannel nods and tilts.

Poses are rows (yaw_deg, pitch_deg, roll_deg, tx, ty, scale): degrees, translations as fractions of the image
width/height, scale around 1. A tanh soft limiter keeps every axis inside a safe range without a visible stop,
and a sequence can start exactly at the last pose of the previous one, so turns and role changes join
seamlessly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.motion.visemes import VOWEL_VISEMES, is_pause, viseme_for
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import FPS

#: The pose columns, in order.
POSE_COLUMNS: tuple[str, ...] = ("yaw_deg", "pitch_deg", "roll_deg", "tx", "ty", "scale")
#: The rest pose every axis reverts to.
NEUTRAL_POSE = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
#: Largest deviation from NEUTRAL_POSE per column (the soft limiter's asymptote): degrees, fractions, scale.
POSE_LIMITS = np.array([25.0, 15.0, 12.0, 0.06, 0.06, 0.06])
#: The limiter's asymptote sits this fraction inside POSE_LIMITS, so rounding to float32 cannot cross a limit.
_LIMIT_MARGIN = 1e-4
_ASYMPTOTE = POSE_LIMITS * (1.0 - _LIMIT_MARGIN)
#: Below this fraction of a limit the limiter is the identity; above it tanh bends the motion toward the limit.
LIMIT_KNEE = 0.6
#: Vertical image shift per degree of nod (a nod dips the face a little in the frame).
NOD_TY_PER_DEG = 0.0012


@dataclass(frozen=True)
class HeadMotionStyle:
    """Parameters of the head-motion model; per-axis tuples follow POSE_COLUMNS (scale as deviation from 1).

    Attributes:
        std: stationary standard deviation of each axis' drift.
        tau_s: mean-reversion time constant of each axis, seconds (shorter = livelier).
        smoothing_s: time constant of the low-pass that makes velocity continuous.
        nod_rate_hz, nod_amplitude_deg, nod_duration_s: random nods (Poisson events) and their size.
        tilt_rate_hz, tilt_amplitude_deg, tilt_duration_s: random head tilts (roll bumps, either side).
        stress_nod_probability: chance of a nod on each stressed syllable when phonemes are given; when > 0 and
            stressed syllables are found, these replace the random nods.
        min_nod_interval_s: nods never come closer than this.
    """

    name: str
    std: tuple[float, float, float, float, float, float]
    tau_s: tuple[float, float, float, float, float, float]
    smoothing_s: float
    nod_rate_hz: float
    nod_amplitude_deg: float
    nod_duration_s: float
    tilt_rate_hz: float
    tilt_amplitude_deg: float
    tilt_duration_s: float
    stress_nod_probability: float = 0.0
    min_nod_interval_s: float = 0.8

    def __post_init__(self) -> None:
        for field_name in ("std", "tau_s"):
            values = getattr(self, field_name)
            if len(values) != len(POSE_COLUMNS) or any(not (v >= 0 and math.isfinite(v)) for v in values):
                raise ValueError(f"{field_name} must be {len(POSE_COLUMNS)} finite values >= 0, got {values!r}")
        if any(v <= 0 for v in self.tau_s):
            raise ValueError(f"tau_s must be positive, got {self.tau_s!r}")
        for field_name in ("smoothing_s", "nod_duration_s", "tilt_duration_s"):
            if not getattr(self, field_name) > 0:
                raise ValueError(f"{field_name} must be positive, got {getattr(self, field_name)!r}")
        if not 0.0 <= self.stress_nod_probability <= 1.0:
            raise ValueError(f"stress_nod_probability must be in [0, 1], got {self.stress_nod_probability!r}")


#: A talker: larger, faster drift; nods on stressed syllables (or about one every 3 s without phonemes).
SPEAKING = HeadMotionStyle(
    name="speaking",
    std=(5.0, 3.0, 2.2, 0.010, 0.007, 0.010),
    tau_s=(1.2, 0.8, 1.5, 1.5, 1.2, 2.0),
    smoothing_s=0.12,
    nod_rate_hz=0.3,
    nod_amplitude_deg=3.0,
    nod_duration_s=0.45,
    tilt_rate_hz=0.05,
    tilt_amplitude_deg=2.5,
    tilt_duration_s=1.5,
    stress_nod_probability=0.4,
    min_nod_interval_s=0.7,
)

#: A listener: slow, small drift; occasional slow backchannel nods and tilts of the head.
LISTENING = HeadMotionStyle(
    name="listening",
    std=(3.0, 1.8, 1.8, 0.007, 0.005, 0.007),
    tau_s=(3.0, 2.5, 3.5, 3.5, 3.0, 4.0),
    smoothing_s=0.3,
    nod_rate_hz=0.1,
    nod_amplitude_deg=3.5,
    nod_duration_s=0.8,
    tilt_rate_hz=0.06,
    tilt_amplitude_deg=4.0,
    tilt_duration_s=2.5,
    min_nod_interval_s=2.0,
)


def _soft_limit(deviation: np.ndarray) -> np.ndarray:
    """Identity below the knee, then tanh toward the limit: bounded, continuous in value and slope."""
    knee = LIMIT_KNEE * _ASYMPTOTE
    room = _ASYMPTOTE - knee
    magnitude = np.abs(deviation)
    bent = knee + room * np.tanh((magnitude - knee) / room)
    return np.sign(deviation) * np.where(magnitude <= knee, magnitude, bent)


def _soft_limit_inverse(limited: np.ndarray) -> np.ndarray:
    """The internal state that `_soft_limit` maps to `limited` (clamped just inside the limits)."""
    knee = LIMIT_KNEE * _ASYMPTOTE
    room = _ASYMPTOTE - knee
    magnitude = np.minimum(np.abs(limited), _ASYMPTOTE * (1.0 - 1e-6))
    unbent = knee + room * np.arctanh(np.clip((magnitude - knee) / room, 0.0, 1.0 - 1e-9))
    return np.sign(limited) * np.where(magnitude <= knee, magnitude, unbent)


def _bump(times: np.ndarray, onset: float, duration: float) -> np.ndarray:
    """sin^2 bump from `onset` lasting `duration`: zero value and slope at both ends, 1 at its middle."""
    u = (times - onset) / duration
    return np.where((u > 0.0) & (u < 1.0), np.sin(np.pi * np.clip(u, 0.0, 1.0)) ** 2, 0.0)


def _poisson_onsets(rng: np.random.Generator, rate_hz: float, duration_s: float, min_gap_s: float) -> list[float]:
    onsets: list[float] = []
    if rate_hz <= 0.0:
        return onsets
    mean_gap = 1.0 / rate_hz
    refractory = min(min_gap_s, 0.8 * mean_gap)
    t = rng.exponential(mean_gap)
    while t < duration_s:
        onsets.append(t)
        t += refractory + rng.exponential(mean_gap - refractory)
    return onsets


def _stressed_times(phonemes: Sequence[PhonemeTiming]) -> list[float]:
    """Times of stressed syllable nuclei: vowels marked with primary stress ('), or long vowels when unmarked."""
    ordered = sorted((p for p in phonemes if not is_pause(p.phoneme)), key=lambda p: p.start_s)
    marked: list[float] = []
    pending = False
    for item in ordered:
        pending = pending or "'" in item.phoneme or "\u02c8" in item.phoneme
        if pending and viseme_for(item.phoneme) in VOWEL_VISEMES:
            marked.append(float(item.start_s))
            pending = False
    if marked:
        return marked
    return [float(p.start_s) for p in ordered if viseme_for(p.phoneme) in VOWEL_VISEMES and p.end_s - p.start_s >= 0.12]


def _check_start(start: np.ndarray | None) -> np.ndarray | None:
    if start is None:
        return None
    pose = np.asarray(start, np.float64)
    if pose.shape != (len(POSE_COLUMNS),) or not np.all(np.isfinite(pose)):
        raise ValueError(f"start must be {len(POSE_COLUMNS)} finite values {POSE_COLUMNS}, got {start!r}")
    return pose


def head_pose_sequence(
    num_frames: int,
    style: HeadMotionStyle,
    rng: np.random.Generator,
    fps: int = FPS,
    start: np.ndarray | None = None,
    phonemes: Sequence[PhonemeTiming] | None = None,
) -> np.ndarray:
    """Head poses (num_frames, 6) float32, columns POSE_COLUMNS; deterministic for a given rng state.

    With `start` (a previous sequence's last pose) the first frame equals it (clamped inside the limits) and the
    motion continues from it with zero initial velocity, reverting to neutral with the style's time constants.
    With `phonemes` and a style that nods on stress, nods peak just after stressed vowels begin.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    start_pose = _check_start(start)
    poses = np.zeros((num_frames, len(POSE_COLUMNS)), np.float32)
    if num_frames == 0:
        return poses
    dt = 1.0 / fps
    std = np.asarray(style.std, np.float64)
    a = np.exp(-dt / np.asarray(style.tau_s, np.float64))
    b = math.exp(-dt / style.smoothing_s)
    # Variance of an AR(1) process with coefficient a after the one-pole low-pass y = b y + (1 - b) x; the noise
    # is scaled up by it so that the smoothed drift keeps the style's standard deviation.
    smoothing_gain = np.sqrt((1.0 - b) * (1.0 + a * b) / ((1.0 + b) * (1.0 - a * b)))
    noise_scale = std * np.sqrt(1.0 - a**2) / smoothing_gain

    initial = np.zeros(len(POSE_COLUMNS)) if start_pose is None else _soft_limit_inverse(start_pose - NEUTRAL_POSE)
    noise = rng.standard_normal((num_frames, len(POSE_COLUMNS)))
    drift = np.empty((num_frames, len(POSE_COLUMNS)))
    ou = initial.copy()
    smooth = initial.copy()
    drift[0] = initial
    if start_pose is None:  # no history: begin anywhere in the stationary distribution, at rest
        ou = std * noise[0]
        smooth = ou.copy()
        drift[0] = smooth
    for k in range(1, num_frames):
        ou = a * ou + noise_scale * noise[k]
        smooth = b * smooth + (1.0 - b) * ou
        drift[k] = smooth

    times = np.arange(num_frames) * dt
    duration = num_frames * dt
    events = np.zeros_like(drift)
    stressed = _stressed_times(phonemes) if phonemes and style.stress_nod_probability > 0.0 else []
    if stressed:
        nod_onsets, last_peak = [], -math.inf
        for t in stressed:
            peak = t + 0.05
            if peak - last_peak >= style.min_nod_interval_s and rng.random() < style.stress_nod_probability:
                nod_onsets.append(peak - 0.5 * style.nod_duration_s)
                last_peak = peak
    else:
        nod_onsets = _poisson_onsets(rng, style.nod_rate_hz, duration, style.min_nod_interval_s)
    for onset in nod_onsets:
        length = style.nod_duration_s * rng.uniform(0.8, 1.2)
        shape = style.nod_amplitude_deg * rng.uniform(0.6, 1.3) * _bump(times, max(onset, 0.0), length)
        events[:, 1] += shape
        events[:, 4] += NOD_TY_PER_DEG * shape
    for onset in _poisson_onsets(rng, style.tilt_rate_hz, duration, style.tilt_duration_s):
        amplitude = style.tilt_amplitude_deg * rng.uniform(0.6, 1.2) * rng.choice((-1.0, 1.0))
        events[:, 2] += amplitude * _bump(times, onset, style.tilt_duration_s * rng.uniform(0.8, 1.2))

    poses[:] = NEUTRAL_POSE + _soft_limit(drift + events)
    if start_pose is not None:  # exactly the given pose (the limiter's round trip is only equal to round-off)
        poses[0] = NEUTRAL_POSE + np.clip(start_pose - NEUTRAL_POSE, -_ASYMPTOTE, _ASYMPTOTE)
    return poses


class PoseStream:
    """Yaw and pitch of one avatar across a session, in any chunks: a sequence made ahead for the role it plays,
    continuing from the last pose shown when the role changes (a turn begins) or the sequence runs out.

    Only yaw and pitch leave (columns 0 and 1): roll, position and scale of a runtime head come from its mask.
    """

    #: Frames made ahead when the length is not known (a human talking): the motion is smooth within them.
    AHEAD = 250

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self.style: HeadMotionStyle | None = None
        self._poses = np.zeros((0, len(POSE_COLUMNS)), np.float32)
        self._last: np.ndarray | None = None

    def restart(self, style: HeadMotionStyle, frames: int, phonemes: Sequence[PhonemeTiming] | None = None) -> None:
        """From now on move as `style`, for about `frames` frames (nods on the stressed syllables of `phonemes`)."""
        self.style = style
        count = max(frames, 1) + 1  # the first frame is the last pose shown
        self._poses = head_pose_sequence(count, style, self._rng, start=self._last, phonemes=phonemes)[1:]

    def nod(self, amplitude_deg: float = 3.0, duration_s: float = 0.6) -> None:
        """Nod from the next frame on: a smooth pitch bump added to the motion made ahead (a listener's backchannel
        at a pause, which the random nods cannot time)."""
        frames = max(2, round(duration_s * FPS))
        self._extend(frames)
        bump = amplitude_deg * _bump(np.arange(frames) / FPS, 0.0, duration_s)
        self._poses[:frames, 1] += bump.astype(np.float32)
        self._poses[:frames, 4] += (NOD_TY_PER_DEG * bump).astype(np.float32)

    def _extend(self, frames: int) -> None:
        while len(self._poses) < frames:
            more = head_pose_sequence(self.AHEAD + 1, self.style or LISTENING, self._rng, start=self._last_or_end())
            self._poses = np.concatenate([self._poses, more[1:]])

    def next(self, frames: int) -> np.ndarray:
        """(frames, 2): yaw and pitch in degrees."""
        self._extend(frames)
        out, self._poses = self._poses[:frames], self._poses[frames:]
        if frames:
            self._last = out[-1].astype(np.float64)
        return out[:, :2]

    def _last_or_end(self) -> np.ndarray | None:
        return self._poses[-1].astype(np.float64) if len(self._poses) else self._last
