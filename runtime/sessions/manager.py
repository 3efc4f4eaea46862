"""Sessions: what CreateSession asks for, checked completely before anything is stored; kept durably in the
conversation store (so they survive a restart); held in memory as a `Session` while in use.

A session is driven by one stream at a time: attaching a second stream ends the first with StreamEnd
("attached elsewhere"). Closing a session ends its stream within one chunk and deletes its tree.

Across replicas (servers on one store) a session is driven by one replica at a time: `take` holds the session's
lease in the store before a stream drives it, and loads the session from the store unless this process's copy is
known to be current (DESIGN.md section 13).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput, LimitExceeded, NotFound
from eai_avatar.runtime.itt import InteractiveTalkingTree
from eai_avatar.runtime.itt.propagation import IncrementalQ
from eai_avatar.runtime.pipeline import Conversation, Models, OutputSpec
from eai_avatar.runtime.store.base import ConversationStore, Lease, SessionRecord, StoreUnavailable

logger = logging.getLogger(__name__)

MODES = ("agent_agent", "human_agent")
#: A session with no stream, unused this long, may leave memory (it reloads from the store when asked for).
IDLE_AFTER_S = 60.0
BACKENDS = ("scripted", "openai", "local")


@dataclass(frozen=True)
class CharacterSpec:
    identity: str
    voice: str = ""  # empty: the identity's default voice
    persona: str = ""


BARGE_IN = ("stop", "finish_sentence", "ignore")


@dataclass(frozen=True)
class Hearing:
    """How the human's side is heard (proto: HumanInput), resolved."""

    recognize_speech: bool = False  # voice activity finds utterances and speech recognition their words
    barge_in: str = "stop"  # stop, finish_sentence or ignore
    end_of_speech_ms: int = 500  # the silence that ends an utterance (see session.proto)

    def to_dict(self) -> dict:
        return {"recognize_speech": self.recognize_speech, "barge_in": self.barge_in,
                "end_of_speech_ms": self.end_of_speech_ms}  # fmt: skip


@dataclass(frozen=True)
class SessionRequest:
    """CreateSession's request in the runtime's terms (the service translates the wire message)."""

    characters: tuple[CharacterSpec, ...]
    mode: str = "agent_agent"
    backend: str = ""  # empty: scripted
    topic: str = ""
    output: OutputSpec = OutputSpec()
    seed: int = 0  # 0: random
    recognize_speech: bool | None = None  # None: where the server can
    barge_in: str = "stop"
    end_of_speech_ms: int = 0  # 0: the default


@dataclass(frozen=True)
class SessionSettings:
    characters: tuple[str, str]
    voices: dict[str, str]
    personas: dict[str, str]
    mode: str  # agent_agent or human_agent
    backend: str
    topic: str
    seed: int
    output: OutputSpec
    hearing: Hearing = Hearing()

    @property
    def human(self) -> str | None:
        """The human's character in HUMAN_AGENT mode (characters[0]), else None."""
        return self.characters[0] if self.mode == "human_agent" else None

    @property
    def agent(self) -> str | None:
        return self.characters[1] if self.mode == "human_agent" else None

    def to_metadata(self) -> dict:
        return {"voices": self.voices, "personas": self.personas, "mode": self.mode, "backend": self.backend,
                "topic": self.topic, "seed": self.seed, "output": self.output.to_dict(),
                "hearing": self.hearing.to_dict()}  # fmt: skip

    @classmethod
    def from_record(cls, record: SessionRecord) -> SessionSettings:
        meta = record.metadata
        output = _output_from_metadata(meta["output"])
        hearing = Hearing(**meta.get("hearing", {}))  # sessions stored before it: the human was heard as before
        return cls(tuple(record.characters), dict(meta["voices"]), dict(meta["personas"]), meta["mode"],
                   meta["backend"], meta["topic"], int(meta["seed"]), output, hearing)  # fmt: skip


def _output_from_metadata(data: dict) -> OutputSpec:
    """OutputSpec from a stored session; sessions stored before it kept the wire message's JSON form."""
    if "imageEncoding" in data or "jpegQuality" in data or "includeImages" in data:
        names = {"IMAGE_ENCODING_RAW_RGB": "raw_rgb", "IMAGE_ENCODING_RAW_RGBA": "raw_rgba",
                 "IMAGE_ENCODING_PNG": "png"}  # fmt: skip
        data = {"image_encoding": names.get(data.get("imageEncoding"), "jpeg"), "width": data.get("width", 256),
                "height": data.get("height", 256), "fps": data.get("fps", 25),
                "real_time": data.get("pacing") != "PACING_AS_FAST_AS_POSSIBLE",
                "jpeg_quality": data.get("jpegQuality", 85),
                **{snake: data.get(camel, True) for snake, camel in (
                    ("include_images", "includeImages"), ("include_audio", "includeAudio"),
                    ("include_blendshapes", "includeBlendshapes"), ("include_head_pose", "includeHeadPose"),
                    ("include_listener_frames", "includeListenerFrames"))}}  # fmt: skip
    return OutputSpec.from_dict(data)


class Session:
    """A session in memory: its settings, its conversation (tree, Q, pipeline state), its dialogue backend, and
    the stream driving it (at most one; `driving` makes a new stream wait until the old one has let go)."""

    def __init__(self, session_id: str, settings: SessionSettings, conversation: Conversation, dialogue=None):
        self.id, self.settings, self.conversation = session_id, settings, conversation
        self._dialogue = dialogue
        self.driving = asyncio.Lock()
        self.stream = None  # the SessionStream attached now
        self.closed = False
        self.last_used = time.monotonic()
        self.lease: Lease | None = None  # this replica's hold on the session in the store, once taken
        # The lease epoch at which this copy was known to equal the store (0: made here, never driven; None: loaded
        # without a lease, so another replica may have written since). Only the epoch's holder writes, so while the
        # store's epoch is still this one, this copy is current.
        self.known_epoch: int | None = None

    @property
    def dialogue(self):
        if self._dialogue is None:
            from eai_avatar.runtime.dialogue import create_backend

            self._dialogue = create_backend(self.settings.backend, topic=self.settings.topic, seed=self.settings.seed)
        return self._dialogue

    def attach(self, stream) -> None:
        """`stream` drives the session from now on; a stream attached before it ends ("attached elsewhere")."""
        if self.closed:
            raise NotFound(f"session {self.id!r} was closed")
        if self.stream is not None and self.stream is not stream:
            self.stream.stop("attached elsewhere: another stream attached to this session")
        self.stream = stream

    def detach(self, stream) -> None:
        if self.stream is stream:
            self.stream = None


class SessionManager:
    """Creates, finds (in memory, else in the store: a restart loses nothing) and closes sessions.

    Methods that touch the store are synchronous (run them in a worker thread); `close` is a coroutine because it
    must also stop a stream on the event loop."""

    def __init__(self, models: Models, store: ConversationStore, config: RuntimeConfig | None = None):
        self.models, self.store = models, store
        self.config = config or models.config
        self.replica_id = self.config.server.replica_id or socket.gethostname()
        self.lease_ttl_s = self.config.store.lease_ttl_s
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        # Takes run one at a time in a process, so two attaches here to one session agree on which copy drives it.
        self._taking = threading.Lock()

    # ------------------------------------------------------------------ creating

    def create(self, request: SessionRequest) -> tuple[str, SessionSettings]:
        """Check everything the request names (identities, voices, dialogue backend and topic), then store it."""
        settings = self.resolve(request)
        dialogue = self._dialogue_backend(settings)
        # The dialogue a scripted session starts with is part of what the client is told (and what a restart keeps).
        settings = replace(settings, topic=getattr(dialogue, "first_dialogue", settings.topic))
        session_id = secrets.token_urlsafe(12)
        record = SessionRecord(session_id, settings.characters, int(time.time() * 1000), settings.to_metadata())
        self.store.create_session(record)
        session = Session(session_id, settings, self._conversation(session_id, settings, record), dialogue)
        session.known_epoch = 0  # nobody has held its lease, so nobody else can have written it
        self._remember(session)
        return session_id, settings

    def resolve(self, request: SessionRequest) -> SessionSettings:
        limits = self.config.limits
        bundle = self.models.bundle
        if len(request.characters) != 2:
            raise InvalidInput(f"a session has exactly two characters, got {len(request.characters)}")
        names = tuple(c.identity for c in request.characters)
        for name in names:
            if name not in bundle.identities:
                raise NotFound(f"unknown identity {name!r}; the bundle has {', '.join(bundle.identities)}")
        if names[0] == names[1]:
            raise InvalidInput("the two characters must be different identities")
        if request.mode not in MODES:
            raise InvalidInput(f"mode {request.mode!r} is not one of {', '.join(MODES)}")
        backend = request.backend or "scripted"
        if backend not in BACKENDS:
            raise InvalidInput(f"dialogue_backend {backend!r} is not one of {', '.join(BACKENDS)}")
        if len(request.topic) > limits.topic_chars:
            raise LimitExceeded(f"dialogue_topic must be at most {limits.topic_chars} characters")
        if request.output.include_human_avatar and request.mode != "human_agent":
            raise InvalidInput("output.include_human_avatar needs a HUMAN_AGENT session")
        personas, voices = {}, {}
        for character in request.characters:
            if len(character.persona) > limits.persona_chars:
                raise LimitExceeded(f"persona of {character.identity} must be at most {limits.persona_chars} "
                                    "characters")  # fmt: skip
            personas[character.identity] = character.persona
            voices[character.identity] = character.voice or bundle.identity(character.identity).voice
            if character.voice:
                self._check_voice(character.identity, character.voice)
        seed = request.seed or secrets.randbits(63)
        return SessionSettings(names, voices, personas, request.mode, backend, request.topic, seed, request.output,
                               self._hearing(request))  # fmt: skip

    def _hearing(self, request: SessionRequest) -> Hearing:
        if request.barge_in not in BARGE_IN:
            raise InvalidInput(f"human_input.barge_in {request.barge_in!r} is not one of {', '.join(BARGE_IN)}")
        end_ms = request.end_of_speech_ms or Hearing.end_of_speech_ms
        if not 200 <= end_ms <= 2000:
            raise InvalidInput(f"human_input.end_of_speech_ms must be 200..2000, got {end_ms}")
        if request.mode != "human_agent" or request.recognize_speech is False:
            return Hearing(False, request.barge_in, end_ms)
        available = self.models.speech_recognizer_available()
        if request.recognize_speech and not available:
            raise FailedPrecondition(f"speech recognition was asked for, but this server has none ({available.reason})")
        recognize = bool(available) if request.recognize_speech is None else request.recognize_speech
        return Hearing(recognize, request.barge_in, end_ms)

    def _check_voice(self, identity: str, voice: str) -> None:
        try:
            tts = self.models.tts
        except (ImportError, OSError, RuntimeError) as exc:
            raise FailedPrecondition(
                f"voice {voice!r} was asked for {identity}, but this server has no TTS ({exc})"
            ) from None
        if not tts.accepts(voice):
            raise NotFound(f"unknown voice {voice!r} for {identity}; voices include {', '.join(tts.voices()[:8])}")

    @staticmethod
    def _dialogue_backend(settings: SessionSettings):
        """The session's backend, made now so a bad topic or a backend that is not set up fails CreateSession."""
        from eai_avatar.runtime.dialogue import create_backend

        try:
            return create_backend(settings.backend, topic=settings.topic, seed=settings.seed)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        except (RuntimeError, ImportError, OSError) as exc:
            raise FailedPrecondition(f"the {settings.backend} dialogue backend is not usable here: {exc}") from None

    # ------------------------------------------------------------------ finding

    def get(self, session_id: str) -> Session:
        """The session, rebuilt from the store if this process does not hold it (after a restart, or evicted)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                self._sessions.move_to_end(session_id)
                session.last_used = time.monotonic()
                return session
        record = self.store.get_session(session_id)  # SessionNotFoundError (a NotFound) for an unknown id
        settings = SessionSettings.from_record(record)
        session = Session(session_id, settings, self._conversation(session_id, settings, record))
        return self._remember(session)

    def take(self, session_id: str) -> Session:
        """The session, to be driven by a stream here: its lease taken (or carried on) for this replica, and the
        copy in memory current with the store. SessionLeased (UNAVAILABLE) while another replica's lease is live;
        SessionNotFoundError for an unknown id; StoreCorrupt for a damaged tree (the lease is let go again).

        A copy in memory is kept when the store's epoch before this acquisition is the one it was known current
        at; otherwise the session is loaded from the store after the lease is held (so nothing written before the
        take is missed, and nothing can be written after it but by this replica), and an older copy's stream, if
        any, is stopped: its writes are fenced anyway."""
        with self._taking:
            cached = self.loaded(session_id)
            known = cached.known_epoch if cached is not None else None
            lease = self.store.acquire_lease(session_id, self.replica_id, self.lease_ttl_s, known)
            if cached is not None and known is not None and lease.epoch - int(lease.taken) == known:
                session = cached
            else:
                try:
                    record = self.store.get_session(session_id)
                    settings = SessionSettings.from_record(record)
                    session = Session(session_id, settings, self._conversation(session_id, settings, record))
                except BaseException:
                    # Not driven after all: let the other replicas have it now. A store that cannot be reached for
                    # this only delays that until the lease runs out, so the load's own error is what is raised.
                    with contextlib.suppress(StoreUnavailable):
                        self.store.release_lease(session_id, lease)
                    raise
                self._replace(session, cached)
            session.lease, session.known_epoch = lease, lease.epoch
            session.conversation.lease = lease
            session.last_used = time.monotonic()
            return session

    def tree(self, session_id: str) -> tuple[InteractiveTalkingTree, IncrementalQ]:
        """The session's tree and Q as the store has them now (GetTree): this process's copy when a stream here
        drives the session or nobody has taken it since the copy was current, else read from the store (another
        replica drives it, or did)."""
        cached = self.loaded(session_id)
        if cached is not None and (cached.stream is not None or
                                   cached.known_epoch == self.store.read_lease(session_id).epoch):  # fmt: skip
            return cached.conversation.tree, cached.conversation.q
        tree = self.store.load_tree(session_id)  # SessionNotFoundError, StoreCorrupt
        return tree, IncrementalQ.of_tree(tree)

    def loaded(self, session_id: str) -> Session | None:
        """The session if this process holds it in memory."""
        with self._lock:
            return self._sessions.get(session_id)

    def _conversation(self, session_id: str, settings: SessionSettings, record: SessionRecord) -> Conversation:
        tree = self.store.load_tree(session_id)  # StoreCorrupt (FAILED_PRECONDITION) for a damaged tree
        # A rebuilt session draws new randomness (the seed mixed with the rounds so far): the tree, which is what
        # the conversation means, is exact; head motion after a restart need not repeat what was never sent.
        return Conversation(self.models, settings.characters, tree, seed=settings.seed + tree.rounds,
                            voices=settings.voices, output=settings.output, human=settings.human, store=self.store,
                            session_id=session_id, clock_ms=record.clock_ms, config=self.config)  # fmt: skip

    def _replace(self, session: Session, older: Session | None) -> None:
        """`session` is this process's copy from now on; `older`'s stream (another take has fenced it) ends."""
        if older is not None and older.stream is not None:
            older.stream.stop("attached elsewhere: another replica drove this session since, and it was loaded again")
        with self._lock:
            self._sessions.pop(session.id, None)
        self._remember(session)

    def _remember(self, session: Session) -> Session:
        """Keep `session` in memory, dropping the least recently used idle ones beyond the limit. Idle means no
        stream attached and unused for a while: a session just handed to a stream about to attach is never dropped
        (a second copy of it in memory would drive the same stored tree twice)."""
        with self._lock:
            kept = self._sessions.setdefault(session.id, session)
            self._sessions.move_to_end(session.id)
            now = time.monotonic()
            idle = [s for s in self._sessions.values()
                    if s.stream is None and s is not kept and now - s.last_used > IDLE_AFTER_S]  # fmt: skip
            for stale in idle[: max(0, len(self._sessions) - self.config.limits.idle_sessions)]:
                del self._sessions[stale.id]
            return kept

    # ------------------------------------------------------------------ closing

    async def close(self, session_id: str, run=None) -> int:
        """End the session's stream (StreamEnd "session closed", within one chunk), wait until it has let go, then
        delete the session and its tree from the store. Returns the rounds the tree held."""
        run = run or _in_thread
        session = self.loaded(session_id)
        if session is not None:
            session.closed = True
            if session.stream is not None:
                session.stream.stop("session closed")
            async with session.driving:  # the stream's work in progress finishes first
                pass
        try:
            rounds = await run(self._delete, session_id)
        except BaseException:
            if session is not None:
                session.closed = False
            raise
        with self._lock:
            self._sessions.pop(session_id, None)
        return rounds

    def _delete(self, session_id: str) -> int:
        rounds = self.store.count_rounds(session_id)  # NotFound for an unknown (or already closed) id
        self.store.delete_session(session_id)
        return rounds


async def _in_thread(function, *args):
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)
