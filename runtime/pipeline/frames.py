"""The typed frames that flow through a turn (DESIGN.md section 3): what each stage takes and makes.

Planning: a `TurnRequest` (who speaks, what, optionally with the game's own audio and an emotion) becomes an
`Utterance` once emotion recognition and the voice have run, and a `TurnPlan` once its round is in the
Interactive Talking Tree (and in the store). Media: each chunk of about half a second is a `MediaChunk` holding
one `AvatarChunk` per avatar, which the stages fill in turn (faces, masks, poses, control images, pixels, encoded
frames). Times are presentation times in milliseconds since the session's start, on one clock for audio and
video; indices count frames at the models' 25 fps unless a field says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.itt.propagation import AccumulatedEmotion
from eai_avatar.runtime.rig import HeadPose
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import FPS

SPEAK, LISTEN = "speak", "listen"


@dataclass(frozen=True)
class TurnRequest:
    speaker: str  # identity name; the other character listens
    text: str
    audio: SpeechAudio | None = None  # the game's (or a human's) own voice: no TTS
    emotion_override: str | None = None  # the speaker's node emotion, instead of recognizing it
    source: str = "scripted"  # who wrote the line: scripted, llm, human
    render_speaker: bool = True  # False for a human's line in HUMAN_AGENT mode without their own avatar
    transcript_known: bool = True  # False: `text` stands in for words nobody transcribed (audio only)


@dataclass(frozen=True)
class Utterance:
    """A line ready for the tree: its emotion recognized and its voice begun, nothing stored yet."""

    request: TurnRequest
    text: str
    recognized: EmotionEstimate
    speech: SpeechAudio  # 16 kHz mono: the whole line, or its first sentence when the voice streams
    frames: int  # video frames `speech` lasts (its audio, rounded up to whole frames)
    more: Iterator[SpeechAudio] | None = None  # the line's next sentences, made as the turn plays
    timings: dict = field(default_factory=dict)  # seconds each planning stage took ("emotion", "voice")


@dataclass(frozen=True)
class TurnPlan:
    """A round of the tree, decided and stored: both nodes, their recognized and accumulated emotions, the voice."""

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
    speech: SpeechAudio  # 16 kHz mono: the whole line, or its first sentence when the voice streams
    start_ms: int
    frames: int  # of `speech`; a streamed line's later sentences add theirs as they come
    render_speaker: bool = True
    more: Iterator[SpeechAudio] | None = None


@dataclass(frozen=True)
class AudioPiece:
    avatar: str
    presentation_ms: int
    samples: np.ndarray  # int16 mono at the session's sample rate


@dataclass
class AvatarChunk:
    """One avatar's frames in one chunk. Stages fill the fields in order; each stage says which it reads."""

    avatar: str
    role: str  # SPEAK or LISTEN
    emotion: str  # the label the face shows (Q of its node)
    first_index: int  # this avatar's first model frame in the chunk (the session clock)
    count: int
    drawn: bool = True  # False: the head moves on (masks, poses) but no frame leaves
    blendshapes: np.ndarray | None = None  # (count, 52) ARKit weights: SpeakerFaces, ListenerFaces
    masks: np.ndarray | None = None  # (count, h, h) in [0, 1]: HeadMasks
    poses: list[HeadPose] | None = None  # HeadPoses
    controls: np.ndarray | None = None  # (count, 4, S, S): MotionImages (mask + E_t)
    rgba: np.ndarray | None = None  # (count, S, S, 4) uint8, alpha = the head mask: Render


@dataclass
class MediaChunk:
    """A chunk of a turn (or of listening to a human): the voice, every avatar's chunk, and the frames that leave."""

    first_index: int  # model frame of the session clock where the chunk begins
    count: int  # model frames
    avatars: list[AvatarChunk]
    audio: list[AudioPiece] = field(default_factory=list)
    frames: list[EncodedFrame] = field(default_factory=list)  # FrameRate, Encode: at the session's output rate


@dataclass(frozen=True)
class EncodedFrame:
    """A frame as it leaves: at the session's output rate (`index` counts output frames, no gaps) and encoding."""

    avatar: str
    index: int
    presentation_ms: int
    role: str
    emotion: str
    width: int
    height: int
    encoding: str  # jpeg, png, raw_rgb, raw_rgba
    image: bytes  # empty when images are off
    blendshapes: np.ndarray | None  # (52,) float32, ARKit order; None when off
    head_pose: HeadPose | None  # None when off


@dataclass(frozen=True)
class TurnSummary:
    round: int
    frames: int  # output frames per avatar
    duration_ms: int
    interrupted: bool
    spoken_text: str = ""  # of an interrupted turn: the words said before it stopped


ENCODINGS = ("jpeg", "png", "raw_rgb", "raw_rgba")


@dataclass(frozen=True)
class OutputSpec:
    """What a session streams, resolved (defaults filled in), in the pipeline's own terms (no wire types)."""

    image_encoding: str = "jpeg"
    width: int = 256
    height: int = 256
    fps: int = FPS
    real_time: bool = True
    jpeg_quality: int = 85
    include_images: bool = True
    include_audio: bool = True
    include_blendshapes: bool = True
    include_head_pose: bool = True
    include_listener_frames: bool = True
    include_human_avatar: bool = False

    def __post_init__(self):
        if self.image_encoding not in ENCODINGS:
            raise ValueError(f"image_encoding must be one of {', '.join(ENCODINGS)}, got {self.image_encoding!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OutputSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})
