"""The typed frames that flow through a turn (DESIGN.md section 3): what each stage takes and makes.

A turn starts as a `TurnRequest` (who speaks, what, optionally with the game's own audio and an emotion), becomes a
`TurnPlan` once emotion recognition and the Interactive Talking Tree have run, and leaves as `AudioPiece`s and
`AvatarFrame`s in chunks of about half a second, closed by a `TurnSummary`. Times are presentation times in
milliseconds since the session's start, on one clock for audio and video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.itt.propagation import AccumulatedEmotion
from eai_avatar.runtime.rig import HeadPose
from eai_avatar.runtime.tts.base import SpeechAudio


@dataclass(frozen=True)
class TurnRequest:
    speaker: str  # identity name; the other character listens
    text: str
    audio: SpeechAudio | None = None  # the game's (or a human's) own voice: no TTS
    emotion_override: str | None = None  # the speaker's node emotion, instead of recognizing it
    source: str = "scripted"  # who wrote the line: scripted, dialogue (an LLM), human
    render_speaker: bool = True  # False for a human's own line in HUMAN_AGENT mode: only the listener is drawn


@dataclass(frozen=True)
class TurnPlan:
    """A round of the tree, decided: both nodes, their recognized and accumulated emotions, and the voice."""

    round: int
    speaker: str
    listener: str
    text: str
    speaker_recognized: EmotionEstimate
    speaker_accumulated: AccumulatedEmotion
    listener_recognized: EmotionEstimate
    listener_accumulated: AccumulatedEmotion
    speak_node_id: int
    listen_node_id: int
    speech: SpeechAudio  # 16 kHz mono
    start_ms: int
    frames: int  # video frames the turn lasts (its audio, rounded up to whole frames)
    render_speaker: bool = True


@dataclass(frozen=True)
class AudioPiece:
    avatar: str
    presentation_ms: int
    samples: np.ndarray  # int16 mono at the session's sample rate


@dataclass(frozen=True)
class AvatarFrame:
    avatar: str
    index: int  # this avatar's frame number in the session, from 0, no gaps
    presentation_ms: int
    role: str  # "speak" or "listen"
    emotion: str  # the label the face shows (Q of its node)
    rgba: np.ndarray  # (H, W, 4) uint8, alpha = the head mask
    blendshapes: np.ndarray  # (52,) float32, ARKit order
    head_pose: HeadPose


@dataclass(frozen=True)
class TurnSummary:
    round: int
    frames: int
    duration_ms: int
    interrupted: bool
