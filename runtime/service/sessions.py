"""Sessions: what CreateSession asks for, checked and resolved; stored in the conversation store (so they survive
a restart); and held in memory as a `Conversation` while a stream is attached.

Every request error is a `RequestError` carrying the gRPC status it maps to, raised before anything changes.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass

import grpc
from google.protobuf import json_format

from eai_avatar.runtime.bundle import Bundle
from eai_avatar.runtime.pipeline import Conversation, Models
from eai_avatar.runtime.store.base import ConversationStore, SessionNotFoundError, SessionRecord
from eai_avatar.v1 import common_pb2, session_pb2

BACKENDS = ("scripted", "openai", "local")
MODES = {session_pb2.MODE_UNSPECIFIED: "agent_agent", session_pb2.MODE_AGENT_AGENT: "agent_agent",
         session_pb2.MODE_HUMAN_AGENT: "human_agent"}  # fmt: skip
MAX_PERSONA = 500
MAX_TOPIC = 200


class RequestError(Exception):
    """A client's mistake: `code` is the gRPC status it gets, the message names the field."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


def _invalid(message: str) -> RequestError:
    return RequestError(grpc.StatusCode.INVALID_ARGUMENT, message)


def resolve_output(requested: session_pb2.OutputOptions | None) -> session_pb2.OutputOptions:
    """The contract's defaults filled in; out-of-range values refused (INVALID_ARGUMENT)."""
    out = session_pb2.OutputOptions()
    if requested is not None:
        out.CopyFrom(requested)
    if out.image_encoding not in common_pb2.ImageEncoding.values():
        raise _invalid(f"output.image_encoding {out.image_encoding} is not an ImageEncoding")
    out.image_encoding = out.image_encoding or common_pb2.IMAGE_ENCODING_JPEG
    for name, default, low, high in (("width", 256, 64, 1024), ("height", 256, 64, 1024), ("fps", 25, 1, 60),
                                     ("jpeg_quality", 85, 1, 100)):  # fmt: skip
        value = getattr(out, name) or default
        if not low <= value <= high:
            raise _invalid(f"output.{name} must lie in {low}..{high}, got {value}")
        setattr(out, name, value)
    if out.pacing not in session_pb2.Pacing.values():
        raise _invalid(f"output.pacing {out.pacing} is not a Pacing")
    out.pacing = out.pacing or session_pb2.PACING_REAL_TIME
    for flag in ("include_images", "include_audio", "include_blendshapes", "include_head_pose",
                 "include_listener_frames"):  # fmt: skip
        if not out.HasField(flag):
            setattr(out, flag, True)
    return out


@dataclass
class SessionSettings:
    characters: tuple[str, str]
    voices: dict[str, str]
    personas: dict[str, str]
    mode: str  # agent_agent or human_agent
    backend: str
    topic: str
    seed: int
    output: session_pb2.OutputOptions

    def to_metadata(self) -> dict:
        return {"voices": self.voices, "personas": self.personas, "mode": self.mode, "backend": self.backend,
                "topic": self.topic, "seed": self.seed, "output": json_format.MessageToDict(self.output)}  # fmt: skip

    @classmethod
    def from_record(cls, record: SessionRecord) -> SessionSettings:
        meta = record.metadata
        output = json_format.ParseDict(meta["output"], session_pb2.OutputOptions())
        return cls(tuple(record.characters), dict(meta["voices"]), dict(meta["personas"]), meta["mode"],
                   meta["backend"], meta["topic"], int(meta["seed"]), output)  # fmt: skip


def resolve_request(request: session_pb2.CreateSessionRequest, bundle: Bundle) -> SessionSettings:
    if len(request.characters) != 2:
        raise _invalid(f"a session has exactly two characters, got {len(request.characters)}")
    names = tuple(c.identity for c in request.characters)
    for name in names:
        if name not in bundle.identities:
            raise RequestError(grpc.StatusCode.NOT_FOUND,
                               f"unknown identity {name!r}; the bundle has {', '.join(bundle.identities)}")  # fmt: skip
    if names[0] == names[1]:
        raise _invalid("the two characters must be different identities")
    if request.mode not in MODES:
        raise _invalid(f"mode {request.mode} is not a Mode")
    backend = request.dialogue_backend or "scripted"
    if backend not in BACKENDS:
        raise _invalid(f"dialogue_backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if len(request.dialogue_topic) > MAX_TOPIC:
        raise _invalid(f"dialogue_topic must be at most {MAX_TOPIC} characters")
    personas = {}
    for character in request.characters:
        if len(character.persona) > MAX_PERSONA:
            raise _invalid(f"persona of {character.identity} must be at most {MAX_PERSONA} characters")
        personas[character.identity] = character.persona
    voices = {c.identity: c.voice or bundle.identity(c.identity).voice for c in request.characters}
    seed = request.seed or secrets.randbits(63)
    return SessionSettings(names, voices, personas, MODES[request.mode], backend, request.dialogue_topic, seed,
                           resolve_output(request.output if request.HasField("output") else None))  # fmt: skip


class Session:
    """A session in memory: its settings, its conversation (tree + pipeline state), its dialogue backend and the
    lock that lets one stream at a time drive it."""

    def __init__(self, session_id: str, settings: SessionSettings, conversation: Conversation):
        self.id, self.settings, self.conversation = session_id, settings, conversation
        self.attached = False
        self._dialogue = None

    @property
    def dialogue(self):
        if self._dialogue is None:
            from eai_avatar.runtime.dialogue import create_backend

            self._dialogue = create_backend(self.settings.backend, topic=self.settings.topic, seed=self.settings.seed)
        return self._dialogue


class SessionManager:
    """Creates, finds (in memory, else in the store: a restart loses nothing) and closes sessions."""

    def __init__(self, models: Models, store: ConversationStore):
        self.models, self.store = models, store
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, request: session_pb2.CreateSessionRequest) -> tuple[str, SessionSettings]:
        settings = resolve_request(request, self.models.bundle)
        session_id = secrets.token_urlsafe(12)
        record = SessionRecord(session_id, settings.characters, int(time.time() * 1000), settings.to_metadata())
        self.store.create_session(record)
        return session_id, settings

    def get(self, session_id: str) -> Session:
        """The session, rebuilt from the store if this process has not seen it (after a restart)."""
        with self._lock:
            if session_id in self._sessions:
                return self._sessions[session_id]
        try:
            record = self.store.get_session(session_id)
        except SessionNotFoundError:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"no session {session_id!r}") from None
        if record.metadata.get("closed"):
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"session {session_id!r} was closed")
        settings = SessionSettings.from_record(record)
        tree = self.store.load_tree(session_id)
        # A rebuilt session draws new randomness (the seed mixed with the rounds so far): the tree, which is what
        # the conversation means, is exact; head motion after a restart need not repeat what was never sent.
        rendered = settings.characters[1:] if settings.mode == "human_agent" else settings.characters
        conversation = Conversation(self.models, settings.characters, tree, seed=settings.seed + tree.rounds,
                                    voices=settings.voices, rendered=rendered,
                                    render_images=settings.output.include_images)  # fmt: skip
        session = Session(session_id, settings, conversation)
        with self._lock:
            return self._sessions.setdefault(session_id, session)

    def close(self, session_id: str) -> int:
        session = self.get(session_id)
        rounds = session.conversation.tree.rounds
        record = self.store.get_session(session_id)
        self.store.update_metadata(session_id, {**record.metadata, "closed": True})  # the tree stays readable
        with self._lock:
            self._sessions.pop(session_id, None)
        return rounds

    def settings_json(self, session_id: str) -> str:
        return json.dumps(self.get(session_id).settings.to_metadata())
