"""Sessions: what CreateSession makes (manager.py), what a client can ask of one (commands.py), and the stream
that drives one with flow control, pacing and interruption (stream.py). No wire types: the service translates."""

from eai_avatar.runtime.sessions.commands import (
    Advance,
    Command,
    EndStream,
    EndUtterance,
    HearAudio,
    Interrupt,
    Rejected,
    Say,
    SpeakLine,
    Undecodable,
)
from eai_avatar.runtime.sessions.manager import CharacterSpec, Session, SessionManager, SessionRequest, SessionSettings
from eai_avatar.runtime.sessions.stream import SessionStream

__all__ = ["Advance", "CharacterSpec", "Command", "EndStream", "EndUtterance", "HearAudio", "Interrupt", "Rejected",
           "Say", "Session", "SessionManager", "SessionRequest", "SessionSettings", "SessionStream", "SpeakLine",
           "Undecodable"]  # fmt: skip
