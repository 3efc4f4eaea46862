"""What a client can ask of an attached session, one dataclass per command (the wire's ClientEvent, translated
by the service; a session never sees a wire type)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.pipeline.frames import TurnRequest


@dataclass(frozen=True)
class Advance:
    """The dialogue backend's next `turns` lines (AGENT_AGENT: speakers alternate; HUMAN_AGENT: the agent only)."""

    turns: int = 1


@dataclass(frozen=True)
class SpeakLine:
    """A line the game wrote (ScriptedLine), with its own voice or emotion when given."""

    request: TurnRequest


@dataclass(frozen=True)
class Say:
    """The human's words as text (UserText)."""

    text: str


@dataclass(frozen=True)
class HearAudio:
    """A chunk of the human's voice (UserAudioChunk): int16 samples at the client's rate."""

    samples: np.ndarray
    sample_rate: int
    contains_playback: bool = False  # the microphone may hear the agent's voice: take it out first
    captured_at_ms: int = 0  # where on the session's clock it was captured; 0: when it arrived


@dataclass(frozen=True)
class EndUtterance:
    """The human stopped talking (UserUtteranceEnd); `transcript` is their words if the client knows them."""

    transcript: str = ""


@dataclass(frozen=True)
class Interrupt:
    """Stop the turn in progress within a chunk; queued agent work (Advance, ScriptedLine) is dropped."""


@dataclass(frozen=True)
class EndStream:
    """No more commands: finish what is queued, then end the stream (the session stays stored)."""

    reason: str = "client ended"


@dataclass(frozen=True)
class Rejected:
    """An event that could not become a command: the client is told, the stream goes on."""

    error: Exception


@dataclass(frozen=True)
class Undecodable:
    """Bytes that are not an event: the stream cannot be trusted to go on and ends with this error."""

    error: Exception


Command = Advance | SpeakLine | Say | HearAudio | EndUtterance | Interrupt | EndStream | Rejected | Undecodable
#: Agent work an Interrupt drops from the queue; the human's own input (Say, HearAudio, EndUtterance) is kept.
DROPPED_BY_INTERRUPT = (Advance, SpeakLine)
