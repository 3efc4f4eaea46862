"""Emotion on the face: per-emotion ARKit offsets for speaking and listening, their mixing with lip sync, and blinks.

An emotion is an additive offset on the neutral face. Speaking and listening get separate tables: while speaking
the mouth belongs to the words, so the emotion lives mostly in the brows, eyes, cheeks and nose and only lightly
in the lips; while listening the mouth is free and the face holds the expression more strongly and steadily
(a listener's smile is wider than a talker's). `combine` adds the offsets while keeping the lip-sync carriers
under the control of speech, and never lets an emotion open the jaw in silence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from eai_avatar.runtime.motion.visemes import viseme_curves
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, EMOTIONS, FPS, LIP_SYNC_BLENDSHAPES

#: The two roles a character plays in a turn.
ROLES: tuple[str, ...] = ("speak", "listen")


def _lr(left_right: str, value: float) -> dict[str, float]:
    """Both sides of a symmetric ARKit pair, e.g. _lr("browDown", 0.3) -> browDownLeft/Right = 0.3."""
    return {f"{left_right}Left": value, f"{left_right}Right": value}


#: Emotion offsets while speaking: the mouth shapes are light (speech drives them), no jaw at all.
SPEAK_EXPRESSIONS: dict[str, dict[str, float]] = {
    "angry": {
        **_lr("browDown", 0.5),
        **_lr("eyeSquint", 0.3),
        **_lr("noseSneer", 0.3),
        **_lr("mouthPress", 0.2),
        **_lr("mouthFrown", 0.1),
    },
    "contempt": {  # one-sided: the left mouth corner pulled up and in, the eyes slightly narrowed
        "mouthSmileLeft": 0.3,
        "mouthDimpleLeft": 0.25,
        "mouthLeft": 0.08,
        "eyeSquintLeft": 0.15,
        "eyeSquintRight": 0.08,
        "browDownRight": 0.1,
    },
    "disgusted": {
        **_lr("noseSneer", 0.5),
        **_lr("mouthUpperUp", 0.25),
        **_lr("browDown", 0.3),
        **_lr("eyeSquint", 0.15),
        **_lr("cheekSquint", 0.1),
        **_lr("mouthFrown", 0.1),
    },
    "fear": {
        "browInnerUp": 0.55,
        **_lr("browOuterUp", 0.15),
        **_lr("eyeWide", 0.35),
        **_lr("mouthStretch", 0.25),
    },
    "happy": {
        **_lr("mouthSmile", 0.35),
        **_lr("cheekSquint", 0.3),
        **_lr("eyeSquint", 0.2),
        **_lr("mouthDimple", 0.1),
    },
    "neutral": {},
    "sad": {
        "browInnerUp": 0.45,
        **_lr("mouthFrown", 0.3),
        **_lr("eyeLookDown", 0.15),
        "mouthShrugLower": 0.1,
        **_lr("eyeSquint", 0.05),
    },
    "surprised": {  # no jaw drop while speaking: the jaw is the words'
        "browInnerUp": 0.5,
        **_lr("browOuterUp", 0.5),
        **_lr("eyeWide", 0.4),
    },
}

#: Emotion offsets while listening: stronger, with the mouth free to hold the expression (jaw at most 0.04).
LISTEN_EXPRESSIONS: dict[str, dict[str, float]] = {
    "angry": {
        **_lr("browDown", 0.65),
        **_lr("eyeSquint", 0.4),
        **_lr("noseSneer", 0.35),
        **_lr("mouthPress", 0.45),
        **_lr("mouthFrown", 0.2),
        "mouthRollLower": 0.1,
    },
    "contempt": {
        "mouthSmileLeft": 0.45,
        "mouthDimpleLeft": 0.4,
        "mouthLeft": 0.12,
        "mouthPressRight": 0.15,
        "eyeSquintLeft": 0.2,
        "eyeSquintRight": 0.1,
        "browDownRight": 0.15,
    },
    "disgusted": {
        **_lr("noseSneer", 0.6),
        **_lr("mouthUpperUp", 0.4),
        **_lr("browDown", 0.4),
        **_lr("eyeSquint", 0.25),
        **_lr("cheekSquint", 0.2),
        **_lr("mouthFrown", 0.2),
        "mouthShrugUpper": 0.15,
    },
    "fear": {
        "browInnerUp": 0.7,
        **_lr("browOuterUp", 0.25),
        **_lr("eyeWide", 0.5),
        **_lr("mouthStretch", 0.4),
        **_lr("mouthLowerDown", 0.1),
        "jawOpen": 0.02,
    },
    "happy": {
        **_lr("mouthSmile", 0.6),
        **_lr("cheekSquint", 0.45),
        **_lr("eyeSquint", 0.3),
        **_lr("mouthDimple", 0.2),
    },
    "neutral": {},
    "sad": {
        "browInnerUp": 0.6,
        **_lr("mouthFrown", 0.45),
        **_lr("eyeLookDown", 0.25),
        "mouthShrugLower": 0.2,
        **_lr("mouthPress", 0.1),
        **_lr("eyeSquint", 0.1),
    },
    "surprised": {
        "browInnerUp": 0.65,
        **_lr("browOuterUp", 0.65),
        **_lr("eyeWide", 0.55),
        "jawOpen": 0.04,
        "mouthFunnel": 0.1,
    },
}

#: The largest jaw opening an emotion may add: enough for a listener's slack-jawed surprise, never a silent "talk".
JAW_OFFSET_MAX = 0.05
#: Speech's jawOpen at which mouth offsets are attenuated most, and by how much (1 = fully).
SPEECH_JAW_FULL = 0.35
SPEECH_ATTENUATION = 0.75

_NUM_SHAPES = len(ARKIT_BLENDSHAPES)
_JAW = BLENDSHAPE_INDEX["jawOpen"]
_MOUTH_MASK = np.array([name in LIP_SYNC_BLENDSHAPES for name in ARKIT_BLENDSHAPES])
_BLINK = [BLENDSHAPE_INDEX["eyeBlinkLeft"], BLENDSHAPE_INDEX["eyeBlinkRight"]]
_EYE_WIDE = [BLENDSHAPE_INDEX["eyeWideLeft"], BLENDSHAPE_INDEX["eyeWideRight"]]
_TABLES = {"speak": SPEAK_EXPRESSIONS, "listen": LISTEN_EXPRESSIONS}


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


def _check_intensity(intensity: float) -> float:
    value = float(intensity)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity!r}")
    return value


def emotion_offsets(emotion: str, role: str, intensity: float = 1.0) -> np.ndarray:
    """The emotion's ARKit offset (52,) float32 in [0, 1] for `role` ("speak" or "listen"), scaled by intensity."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    _check_role(role)
    scale = _check_intensity(intensity)
    offsets = np.zeros(_NUM_SHAPES, np.float32)
    for name, value in _TABLES[role][emotion].items():
        offsets[BLENDSHAPE_INDEX[name]] = value * scale
    return np.clip(offsets, 0.0, 1.0)


def combine(speech: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """speech (..., 52) plus emotion offsets (broadcastable, e.g. (52,) or (frames, 52)), clipped to [0, 1].

    Outside the mouth the offsets simply add. On the lip-sync carriers (jaw, mouth, tongue, cheekPuff) they are
    attenuated as speech opens the jaw, so vowels and closures stay legible; the jaw offset is capped at
    `JAW_OFFSET_MAX` so an emotion alone never opens the mouth in silence.
    """
    speech = np.asarray(speech, np.float32)
    offsets = np.asarray(offsets, np.float32)
    if speech.shape[-1:] != (_NUM_SHAPES,) or offsets.shape[-1:] != (_NUM_SHAPES,):
        raise ValueError(
            f"speech and offsets must end in {_NUM_SHAPES} blendshapes, got {speech.shape}, {offsets.shape}"
        )
    activity = np.clip(speech[..., _JAW : _JAW + 1] / SPEECH_JAW_FULL, 0.0, 1.0)
    mouth_gain = 1.0 - SPEECH_ATTENUATION * activity
    offsets = offsets.copy() if offsets.ndim > 1 else np.broadcast_to(offsets, speech.shape).copy()
    offsets[..., _JAW] = np.minimum(offsets[..., _JAW], JAW_OFFSET_MAX)
    scaled = np.where(_MOUTH_MASK, offsets * mouth_gain, offsets)
    return np.clip(speech + scaled, 0.0, 1.0).astype(np.float32)


#: Blink timing: a blink lasts 150-250 ms, closing in about a third of it and opening more slowly.
BLINK_DURATION_S = (0.15, 0.25)
BLINK_CLOSE_FRACTION = 0.35
#: The eyes stay open at least this long between blinks (real blinks rarely come closer).
BLINK_REFRACTORY_S = 1.5
#: Listeners blink a little more often than talkers.
LISTEN_BLINK_FACTOR = 1.15


def blink_curve(
    num_frames: int,
    rng: np.random.Generator,
    fps: int = FPS,
    rate_per_min: float = 17.0,
    role: str = "speak",
) -> np.ndarray:
    """eyeBlink weight (num_frames,) float32 in [0, 1], to apply to both eyeBlinkLeft and eyeBlinkRight.

    Intervals are a refractory minimum plus an exponential remainder, so the mean rate is `rate_per_min` (times
    `LISTEN_BLINK_FACTOR` when listening) while blinks never crowd. Each blink's peak falls on a frame, so the
    lids are seen fully closed at 25 fps.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    if not (math.isfinite(rate_per_min) and rate_per_min > 0):
        raise ValueError(f"rate_per_min must be a positive number, got {rate_per_min!r}")
    _check_role(role)
    rate = rate_per_min * (LISTEN_BLINK_FACTOR if role == "listen" else 1.0)
    mean_interval = 60.0 / rate
    refractory = min(BLINK_REFRACTORY_S, 0.8 * mean_interval)
    curve = np.zeros(num_frames, np.float64)
    duration_s = num_frames / fps
    times = (np.arange(num_frames) + 0.5) / fps
    peak = rng.uniform(0.2, mean_interval)  # the first blink comes at a random phase, not at a fixed delay
    while peak < duration_s:
        frame = min(int(peak * fps), num_frames - 1)
        centre = (frame + 0.5) / fps
        length = rng.uniform(*BLINK_DURATION_S)
        close, reopen = BLINK_CLOSE_FRACTION * length, (1.0 - BLINK_CLOSE_FRACTION) * length
        rising = np.clip(1.0 - (centre - times) / close, 0.0, 1.0)
        falling = np.clip(1.0 - (times - centre) / reopen, 0.0, 1.0)
        shape = np.where(times <= centre, rising, falling)
        shape = shape * shape * (3.0 - 2.0 * shape)  # smoothstep: lids accelerate and decelerate
        curve = np.maximum(curve, shape)
        peak = centre + refractory + rng.exponential(mean_interval - refractory)
    return curve.astype(np.float32)


def intensity_wobble(num_frames: int, rng: np.random.Generator, fps: int, low: float) -> np.ndarray:
    """A slow intensity drift in [low, 1]: a few sinusoids of 4-20 s period with random phases."""
    if num_frames == 0:
        return np.zeros(0)
    times = np.arange(num_frames) / fps
    periods = rng.uniform(4.0, 20.0, size=3)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=3)
    mix = np.sin(2.0 * np.pi * times[:, None] / periods + phases).mean(axis=1)  # in [-1, 1]
    return low + (1.0 - low) * 0.5 * (mix + 1.0)


def expression_sequence(
    phonemes: Sequence[PhonemeTiming],
    num_frames: int,
    emotion: str,
    role: str,
    rng: np.random.Generator,
    intensity: float = 1.0,
    fps: int = FPS,
) -> np.ndarray:
    """The full face (num_frames, 52) float32 in [0, 1]: lip sync (when speaking), the emotion, and blinks.

    The emotion's intensity drifts slowly (0.85-1 when speaking, steadier 0.92-1 when listening), since a held
    constant offset reads as a mask. While listening the phonemes are ignored and the mouth carries only the
    emotion, so jawOpen stays within `JAW_OFFSET_MAX`.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames!r}")
    _check_role(role)
    base = emotion_offsets(emotion, role, 1.0)
    scale = _check_intensity(intensity)
    if role == "speak":
        speech = viseme_curves(phonemes, num_frames, fps)
    else:
        speech = np.zeros((num_frames, _NUM_SHAPES), np.float32)
    wobble = intensity_wobble(num_frames, rng, fps, 0.85 if role == "speak" else 0.92)
    face = combine(speech, np.clip(base[None, :] * (scale * wobble[:, None]), 0.0, 1.0))
    return with_blinks(face, rng, role, fps)


def with_blinks(face: np.ndarray, rng: np.random.Generator, role: str, fps: int = FPS) -> np.ndarray:
    """`face` (T, 52) with natural blinks added (a new array); wide eyes give way while the lids close."""
    face = np.array(face, dtype=np.float32)
    blink = blink_curve(len(face), rng, fps=fps, role=role)[:, None]
    face[:, _BLINK] = np.clip(face[:, _BLINK] + blink, 0.0, 1.0)
    face[:, _EYE_WIDE] *= 1.0 - blink  # wide eyes cannot stay wide through a blink
    return face
