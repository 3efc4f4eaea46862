"""What a session's stream says, as typed events: the one stream that every output adapts (the gRPC Converse
stream, the ZeroMQ frame publisher, later outputs), so an output is added without touching the stages.

A stream is `StreamStarted`, then turns (`TurnStarted`, `FrameOut` and `AudioOut` in presentation order,
`TurnEnded`), `HumanSpeech` while a human talks, `Notice`s at any time, and `StreamEnded` last (or `StreamFailed`,
which an output turns into its own error status).
"""

from __future__ import annotations

from dataclasses import dataclass

from eai_avatar.runtime.pipeline.frames import AudioPiece, EncodedFrame, OutputSpec, TurnPlan, TurnSummary


@dataclass(frozen=True)
class StreamStarted:
    session_id: str
    characters: tuple[str, str]
    output: OutputSpec
    rounds_so_far: int
    clock_ms: int  # where the session's presentation clock stands (continues across restarts)


@dataclass(frozen=True)
class TurnStarted:
    plan: TurnPlan


@dataclass(frozen=True)
class HumanSpeech:
    """A human began an utterance (audio): frames from `start_ms` on belong to the round it will become."""

    round: int
    speaker: str
    start_ms: int
    transcript: str = ""  # what is known of the words so far (empty without speech recognition)


@dataclass(frozen=True)
class FrameOut:
    frame: EncodedFrame


@dataclass(frozen=True)
class AudioOut:
    piece: AudioPiece


@dataclass(frozen=True)
class TurnEnded:
    summary: TurnSummary


@dataclass(frozen=True)
class Notice:
    """A rejected event or a failed turn, reported while the stream and the session go on. `error` is the error
    that caused it (an `eai_avatar.runtime.errors` kind decides its code)."""

    level: str  # "info", "warning" or "error"
    message: str
    error: BaseException | None = None
    client_event: int = 0  # the client event it answers, counting from 1 after the attach; 0 if none


@dataclass(frozen=True)
class StreamEnded:
    reason: str  # "client ended", "session closed", "attached elsewhere", ...


@dataclass(frozen=True)
class StreamFailed:
    """The stream cannot go on (its client sent bytes that are not events): the call ends with this error."""

    error: BaseException


Event = (StreamStarted | TurnStarted | HumanSpeech | FrameOut | AudioOut | TurnEnded | Notice | StreamEnded
         | StreamFailed)  # fmt: skip
