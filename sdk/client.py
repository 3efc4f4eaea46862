"""The Python client of the EAI-Avatar service: `AvatarClient` (blocking) and `AsyncAvatarClient` (asyncio).

    with AvatarClient("127.0.0.1:50051") as client:
        session = client.create_session(["ada", "bo"], output={"pacing": "as_fast_as_possible"})
        with client.converse(session.session_id) as conversation:
            conversation.advance(2)
            conversation.end()
            save_mp4(conversation, "talk.mp4")

`converse()` attaches to the session at once and returns a conversation: its methods write client events, and
iterating it yields typed events (`eai_avatar.events`) until the server's `StreamEnd`. Writing and reading are
independent, so a caller may `interrupt()` from inside its loop over the events or from another thread (sync)
or task (async). Server errors become `AvatarError` (and its subclasses), with the gRPC code kept in `.code`.
"""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from eai_avatar import vocabulary
from eai_avatar.events import (
    AudioChunk,
    EmotionInfo,
    Event,
    Frame,
    Header,
    HeadPose,
    HumanSpeech,
    SavedVideo,
    Status,
    StreamEnd,
    TurnEnded,
    TurnStarted,
    from_proto,
    save_mp4,
)
from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2_grpc, session_pb2, tree_pb2

__all__ = [
    "SESSION_METADATA_KEY",
    "AsyncAvatarClient",
    "AsyncConversation",
    "AudioChunk",
    "AuthenticationError",
    "AvatarClient",
    "AvatarError",
    "CharacterInfo",
    "Conversation",
    "EmotionInfo",
    "Event",
    "Frame",
    "Header",
    "HeadPose",
    "HumanSpeech",
    "Identities",
    "IdentityInfo",
    "InvalidRequestError",
    "NotFoundError",
    "SavedVideo",
    "SessionInfo",
    "Status",
    "StreamEnd",
    "TurnEnded",
    "TurnStarted",
    "from_proto",
    "save_mp4",
]

# gRPC's default 4 MB receive limit is below one RAW_RGBA frame at 1024x1024 (the contract's maximum size).
_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
#: Metadata every call about a session carries, so a proxy in front of several servers can send all of a session's
#: calls to one of them (session affinity: deploy/README.md). The server itself does not read it.
SESSION_METADATA_KEY = "eai-avatar-session"

_MODES = {"agent_agent": session_pb2.MODE_AGENT_AGENT, "human_agent": session_pb2.MODE_HUMAN_AGENT}
_IMAGE_ENCODINGS = {
    "jpeg": common_pb2.IMAGE_ENCODING_JPEG,
    "png": common_pb2.IMAGE_ENCODING_PNG,
    "raw_rgb": common_pb2.IMAGE_ENCODING_RAW_RGB,
    "raw_rgba": common_pb2.IMAGE_ENCODING_RAW_RGBA,
}
_PACINGS = {"real_time": session_pb2.PACING_REAL_TIME, "as_fast_as_possible": session_pb2.PACING_AS_FAST_AS_POSSIBLE}
_OUTPUT_RANGES = {"width": (64, 1024), "height": (64, 1024), "fps": (1, 60), "jpeg_quality": (1, 100)}
_OUTPUT_SWITCHES = (
    "include_images",
    "include_audio",
    "include_blendshapes",
    "include_head_pose",
    "include_listener_frames",
    "include_human_avatar",
)


# ---------------------------------------------------------------- errors


class AvatarError(RuntimeError):
    """A call to the avatar service failed. `code` is the grpc.StatusCode, `details` the server's message."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None, details: str = ""):
        super().__init__(message)
        self.code = code
        self.details = details


class AuthenticationError(AvatarError):
    """The server wants a bearer token and the call had none or a wrong one (UNAUTHENTICATED)."""


class NotFoundError(AvatarError, LookupError):
    """An unknown session or identity (NOT_FOUND)."""


class InvalidRequestError(AvatarError, ValueError):
    """The server rejected a malformed request (INVALID_ARGUMENT)."""


_MASKED_DETAILS = "Internal error from Core"


class _StatusError(grpc.RpcError):
    """A status read back from a call, in the shape `_error` reads."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(code, details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def _error(err: grpc.RpcError, what: str, target: str, has_token: bool) -> AvatarError:
    code = err.code() if callable(getattr(err, "code", None)) else None
    details = (err.details() if callable(getattr(err, "details", None)) else "") or ""
    name = code.name if code is not None else "UNKNOWN"
    message = f"{what} failed: {name}: {details}" if details else f"{what} failed: {name}"
    if code == grpc.StatusCode.UNAUTHENTICATED:
        hint = "the server rejected the token" if has_token else "the server needs a token: pass token=..."
        return AuthenticationError(f"{message} ({hint})", code, details)
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(message, code, details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidRequestError(message, code, details)
    if code == grpc.StatusCode.UNAVAILABLE:
        return AvatarError(f"{message} (is an eai-avatar server running at {target}?)", code, details)
    return AvatarError(message, code, details)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class IdentityInfo:
    name: str
    display_name: str
    default_voice: str
    native_width: int
    native_height: int


@dataclass(frozen=True)
class Identities:
    """The characters the server can render and the wire's vocabulary."""

    identities: tuple[IdentityInfo, ...]
    emotions: tuple[str, ...]
    blendshape_names: tuple[str, ...]
    voices: tuple[str, ...] = ()  # TTS voices a character may name (empty: the server has no TTS)
    dialogues: tuple[str, ...] = ()  # scripted dialogues, by the name `topic` takes with the "scripted" backend

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(identity.name for identity in self.identities)


@dataclass(frozen=True)
class CharacterInfo:
    identity: str
    voice: str
    persona: str


@dataclass(frozen=True)
class SessionInfo:
    """A created session. `output` is the resolved OutputOptions as a dict (enums by name), the shape
    `create_session(output=...)` takes."""

    session_id: str
    characters: tuple[CharacterInfo, ...]
    output: dict[str, Any]
    mode: str = ""  # "agent_agent" or "human_agent"
    dialogue_backend: str = ""
    topic: str = ""  # for "scripted": the dialogue the session starts with
    seed: int = 0  # the seed in use


def _identities(reply: session_pb2.ListIdentitiesResponse) -> Identities:
    return Identities(
        identities=tuple(
            IdentityInfo(i.name, i.display_name, i.default_voice, i.native_width, i.native_height)
            for i in reply.identities
        ),
        emotions=tuple(reply.emotions),
        blendshape_names=tuple(reply.blendshape_names),
        voices=tuple(reply.voices),
        dialogues=tuple(reply.dialogues),
    )


def _output_dict(options: session_pb2.OutputOptions) -> dict[str, Any]:
    encodings = {value: name for name, value in _IMAGE_ENCODINGS.items()}
    pacings = {value: name for name, value in _PACINGS.items()}
    result: dict[str, Any] = {
        "image_encoding": encodings.get(options.image_encoding, "jpeg"),
        "width": options.width,
        "height": options.height,
        "fps": options.fps,
        "pacing": pacings.get(options.pacing, "real_time"),
        "jpeg_quality": options.jpeg_quality,
    }
    for name in _OUTPUT_SWITCHES:
        # The contract's default for an unset switch is on, but for the human's own avatar.
        result[name] = getattr(options, name) if options.HasField(name) else name != "include_human_avatar"
    return result


def _session(reply: session_pb2.CreateSessionResponse) -> SessionInfo:
    return SessionInfo(
        session_id=reply.session_id,
        characters=tuple(CharacterInfo(c.identity, c.voice, c.persona) for c in reply.characters),
        output=_output_dict(reply.output),
        mode={value: name for name, value in _MODES.items()}.get(reply.mode, ""),
        dialogue_backend=reply.dialogue_backend,
        topic=reply.dialogue_topic,
        seed=reply.seed,
    )


# ---------------------------------------------------------------- requests


def _character(value: Any) -> session_pb2.Character:
    if isinstance(value, session_pb2.Character):
        return value
    if isinstance(value, str):
        if not value:
            raise ValueError("a character's identity name is empty")
        return session_pb2.Character(identity=value)
    if isinstance(value, Mapping):
        unknown = set(value) - {"identity", "voice", "persona"}
        if unknown:
            raise ValueError(f"unknown character field(s) {sorted(unknown)}; expected identity, voice, persona")
        if not value.get("identity"):
            raise ValueError(f"character {dict(value)!r} names no identity")
        return session_pb2.Character(**value)
    raise ValueError(f"a character is an identity name, a dict or a Character message, got {type(value).__name__}")


def _enum(value: Any, names: Mapping[str, int], what: str) -> int:
    if isinstance(value, str) and value.lower() in names:
        return names[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in names.values():
        return value
    raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(names)}")


def _output_options(output: Any) -> session_pb2.OutputOptions | None:
    if output is None or isinstance(output, session_pb2.OutputOptions):
        return output
    if not isinstance(output, Mapping):
        raise ValueError(f"output is a dict or an OutputOptions message, got {type(output).__name__}")
    options = session_pb2.OutputOptions()
    for key, value in output.items():
        if key == "image_encoding":
            options.image_encoding = _enum(value, _IMAGE_ENCODINGS, "image encoding")
        elif key == "pacing":
            options.pacing = _enum(value, _PACINGS, "pacing")
        elif key in _OUTPUT_RANGES:
            low, high = _OUTPUT_RANGES[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"output {key} must be an integer in {low}..{high}, got {value!r}")
            setattr(options, key, value)
        elif key in _OUTPUT_SWITCHES:
            if not isinstance(value, bool):
                raise ValueError(f"output {key} must be True or False, got {value!r}")
            setattr(options, key, value)
        else:
            known = ["image_encoding", "pacing", *_OUTPUT_RANGES, *_OUTPUT_SWITCHES]
            raise ValueError(f"unknown output option {key!r}; expected one of {', '.join(known)}")
    return options


_BARGE_IN = {"stop": session_pb2.BARGE_IN_STOP, "finish_sentence": session_pb2.BARGE_IN_FINISH_SENTENCE,
             "ignore": session_pb2.BARGE_IN_IGNORE}  # fmt: skip


def _human_input(value: Any) -> session_pb2.HumanInput | None:
    if value is None or isinstance(value, session_pb2.HumanInput):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"human_input is a dict or a HumanInput message, got {type(value).__name__}")
    unknown = set(value) - {"recognize_speech", "barge_in", "end_of_speech_ms"}
    if unknown:
        raise ValueError(f"unknown human_input field(s) {sorted(unknown)}; expected recognize_speech, barge_in, "
                         "end_of_speech_ms")  # fmt: skip
    message = session_pb2.HumanInput()
    if "recognize_speech" in value:
        message.recognize_speech = bool(value["recognize_speech"])
    if "barge_in" in value:
        message.barge_in = _enum(value["barge_in"], _BARGE_IN, "barge_in policy")
    if "end_of_speech_ms" in value:
        ms = value["end_of_speech_ms"]
        if not isinstance(ms, int) or isinstance(ms, bool) or not 200 <= ms <= 2000:
            raise ValueError(f"end_of_speech_ms must be an integer in 200..2000, got {ms!r}")
        message.end_of_speech_ms = ms
    return message


def _create_request(characters, mode, dialogue_backend, topic, output, seed,
                    human_input=None) -> session_pb2.CreateSessionRequest:  # fmt: skip
    if isinstance(characters, str | bytes) or not isinstance(characters, Iterable):
        raise ValueError(f"characters must be a list of two identities, got {characters!r}")
    characters = [_character(c) for c in characters]
    if len(characters) != 2:
        raise ValueError(f"a session has exactly two characters, got {len(characters)}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in 0..2**64-1 (0 = random), got {seed!r}")
    return session_pb2.CreateSessionRequest(
        characters=characters,
        mode=_enum(mode, _MODES, "mode"),
        dialogue_backend=dialogue_backend,
        dialogue_topic=topic,
        output=_output_options(output),
        seed=seed,
        human_input=_human_input(human_input),
    )


def _session_id(session_id: Any) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ValueError(f"session_id must be a non-empty string, got {session_id!r}")
    return session_id


def _tree_request(session_id: str, after_node: int, max_nodes: int) -> tree_pb2.GetTreeRequest:
    for name, value in (("after_node", after_node), ("max_nodes", max_nodes)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return tree_pb2.GetTreeRequest(session_id=_session_id(session_id), after_node=after_node, max_nodes=max_nodes)


def _merge_page(tree: tree_pb2.TalkingTree, page: tree_pb2.TalkingTree) -> None:
    tree.nodes.extend(page.nodes)
    tree.more, tree.last_node = page.more, page.last_node


def _pcm16(samples: Any, sample_rate: int, what: str) -> tuple[np.ndarray, int]:
    """Mono int16 samples; float arrays are taken as [-1, 1]."""
    if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 48000:
        raise ValueError(f"{what}: sample_rate must be an integer in 8000..48000 Hz, got {sample_rate!r}")
    array = np.asarray(samples)
    if array.ndim != 1:
        raise ValueError(f"{what}: samples must be mono (1-D), got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        array = np.round(np.clip(array, -1.0, 1.0) * 32767).astype(np.int16)
    elif array.dtype != np.int16:
        raise ValueError(f"{what}: samples must be int16 PCM or floats in [-1, 1], got {array.dtype}")
    return array, sample_rate


def _audio(samples: np.ndarray, sample_rate: int) -> common_pb2.Pcm16Audio:
    return common_pb2.Pcm16Audio(samples=samples.astype("<i2").tobytes(), sample_rate=sample_rate)


class _Events:
    """Builds the ClientEvents; shared by the sync and async conversations."""

    @staticmethod
    def attach(session_id: str) -> list[converse_pb2.ClientEvent]:
        return [converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session_id))]

    @staticmethod
    def say(text: str) -> list[converse_pb2.ClientEvent]:
        if not isinstance(text, str) or not 1 <= len(text) <= vocabulary.MAX_TEXT_CHARS:
            raise ValueError(f"say() takes 1..{vocabulary.MAX_TEXT_CHARS} characters of text, got {text!r:.60}")
        return [converse_pb2.ClientEvent(user_text=converse_pb2.UserText(text=text))]

    @staticmethod
    def user_audio(samples: Any, sample_rate: int, contains_playback: bool = False,
                   captured_at_ms: int = 0) -> list[converse_pb2.ClientEvent]:  # fmt: skip
        array, rate = _pcm16(samples, sample_rate, "user_audio")
        # The contract takes up to 1 s per chunk; longer audio is split here rather than rejected there.
        return [
            converse_pb2.ClientEvent(
                user_audio=converse_pb2.UserAudioChunk(
                    audio=_audio(array[start : start + rate], rate),
                    contains_playback=contains_playback,
                    captured_at_ms=captured_at_ms + (start * 1000 // rate if captured_at_ms else 0),
                )
            )  # fmt: skip
            for start in range(0, len(array), rate)
        ]

    @staticmethod
    def user_utterance_end(transcript: str) -> list[converse_pb2.ClientEvent]:
        return [converse_pb2.ClientEvent(user_utterance_end=converse_pb2.UserUtteranceEnd(transcript=transcript))]

    @staticmethod
    def scripted_line(character, text, audio, emotion, sample_rate) -> list[converse_pb2.ClientEvent]:
        if not isinstance(character, str) or not character:
            raise ValueError(f"scripted_line needs the speaking character's identity name, got {character!r}")
        if not text and audio is None:
            raise ValueError("scripted_line needs text, audio or both")
        if emotion is not None and emotion not in vocabulary.EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}; expected one of {', '.join(vocabulary.EMOTIONS)}")
        line = converse_pb2.ScriptedLine(character=character, text=text or "", emotion_override=emotion or "")
        if audio is not None:
            line.audio.CopyFrom(_audio(*_pcm16(audio, sample_rate, "scripted_line")))
        return [converse_pb2.ClientEvent(scripted_line=line)]

    @staticmethod
    def advance(turns: int) -> list[converse_pb2.ClientEvent]:
        if not isinstance(turns, int) or isinstance(turns, bool) or not 1 <= turns <= 100:
            raise ValueError(f"advance() takes 1..100 turns, got {turns!r}")
        return [converse_pb2.ClientEvent(advance=converse_pb2.Advance(turns=turns))]

    @staticmethod
    def interrupt() -> list[converse_pb2.ClientEvent]:
        return [converse_pb2.ClientEvent(interrupt=converse_pb2.Interrupt())]

    @staticmethod
    def end() -> list[converse_pb2.ClientEvent]:
        return [converse_pb2.ClientEvent(end=converse_pb2.EndStream())]


_CLOSE = object()  # ends the request stream (half-close)
#: Client events a conversation holds unsent before its methods wait: the server reads 32 ahead and then lets
#: HTTP/2 flow control hold the sender, so a caller that sends faster than the server works waits here.
_SEND_AHEAD = 32


def _root_certificates(value: bytes | str | Path | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"root_certificates is neither PEM text nor a readable file: {value!r}")
    return path.read_bytes()


class _ClientBase:
    def __init__(self, target: str, token: str | None, tls: bool, root_certificates, timeout: float | None):
        if not isinstance(target, str) or not target:
            raise ValueError(f"target must be 'host:port', got {target!r}")
        if token is not None and (not isinstance(token, str) or not token or token != token.strip()):
            raise ValueError("token must be a non-empty string without surrounding spaces (or None)")
        if root_certificates is not None and not tls:
            raise ValueError("root_certificates are for TLS: pass tls=True as well")
        self.target = target
        self.timeout = timeout
        self._token = token
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._credentials = (
            grpc.ssl_channel_credentials(root_certificates=_root_certificates(root_certificates)) if tls else None
        )

    def _session_metadata(self, session_id: str) -> tuple[tuple[str, str], ...]:
        return (*self._metadata, (SESSION_METADATA_KEY, session_id))

    def _fail(self, err: grpc.RpcError, what: str) -> AvatarError:
        return _error(err, what, self.target, self._token is not None)


# ---------------------------------------------------------------- sync


class Conversation:
    """A blocking Converse stream. Methods queue client events (thread-safe); iterate for typed events."""

    def __init__(self, client: AvatarClient, session_id: str):
        self.session_id = session_id
        self.header: Header | None = None  # the stream's header, once read
        self._client = client
        self._requests: queue.Queue = queue.Queue()
        self._ended = False  # no more client events
        self._closed = False  # cancelled by the caller
        self._finished = False  # the response stream is over
        self._requests.put(_Events.attach(session_id)[0])
        # grpc consumes the request generator in its own thread, so writes never wait for reads.
        self._call = client._stub.Converse(self._request_iterator(), metadata=client._session_metadata(session_id))

    def _request_iterator(self):
        while True:
            item = self._requests.get()
            if item is _CLOSE:
                return
            yield item

    def _put(self, events: list[converse_pb2.ClientEvent]) -> None:
        if self._ended or self._closed or self._finished:
            raise RuntimeError(f"the conversation on session {self.session_id!r} has ended; call converse() again")
        for event in events:
            # The server's flow control reaches the caller: at most _SEND_AHEAD events wait here unsent.
            while self._requests.qsize() >= _SEND_AHEAD and not self._call.done():
                time.sleep(0.005)
            self._requests.put(event)

    def say(self, text: str) -> None:
        """The human's words as text (HUMAN_AGENT mode)."""
        self._put(_Events.say(text))

    def user_audio(self, samples: Any, sample_rate: int = vocabulary.SAMPLE_RATE, *, contains_playback: bool = False,
                   captured_at_ms: int = 0) -> None:  # fmt: skip
        """The human's voice: mono int16 (or float in [-1, 1]) samples; longer than 1 s is sent in 1 s chunks.
        `contains_playback`: the microphone may hear the agent's voice (the server takes it out);
        `captured_at_ms`: where on the session's clock the first sample was captured (0: when it arrives)."""
        self._put(_Events.user_audio(samples, sample_rate, contains_playback, captured_at_ms))

    def user_utterance_end(self, transcript: str = "") -> None:
        """Closes the human's audio utterance; the agent replies."""
        self._put(_Events.user_utterance_end(transcript))

    def scripted_line(
        self,
        character: str,
        text: str = "",
        audio: Any = None,
        emotion: str | None = None,
        sample_rate: int = vocabulary.SAMPLE_RATE,
    ) -> None:
        """A line written by the game for `character`; `audio` (mono PCM) replaces TTS, `emotion` overrides C."""
        self._put(_Events.scripted_line(character, text, audio, emotion, sample_rate))

    def advance(self, turns: int = 1) -> None:
        """Run the next `turns` turns of the dialogue (1..100)."""
        self._put(_Events.advance(turns))

    def interrupt(self) -> None:
        """Stop the current turn within about 0.5 s; queued work is dropped."""
        self._put(_Events.interrupt())

    def end(self) -> None:
        """End the stream (the session stays stored); the server finishes with StreamEnd."""
        self._put(_Events.end())
        self._ended = True
        self._requests.put(_CLOSE)

    def close(self) -> None:
        """Cancel the stream now, without waiting for the server's StreamEnd."""
        if not self._closed and not self._finished:
            self._closed = True
            self._call.cancel()
        self._requests.put(_CLOSE)  # lets grpc's request thread return

    def __iter__(self) -> Conversation:
        return self

    def __next__(self) -> Event:
        if self._finished:
            raise StopIteration
        try:
            message = next(self._call)
        except StopIteration:
            self._finish()
            raise
        except grpc.RpcError as err:
            self._finish()
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise self._client._fail(err, "Converse") from None
        event = from_proto(message)
        if event is None:  # an event this client does not know: skipped
            return next(self)
        if isinstance(event, Header):
            self.header = event
        return event

    def _finish(self) -> None:
        self._finished = True
        self._requests.put(_CLOSE)

    def __enter__(self) -> Conversation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AvatarClient(_ClientBase):
    """Blocking client of an eai-avatar server. `token` is sent as `authorization: Bearer <token>`;
    `timeout` (seconds) bounds each unary call (not Converse, which lasts as long as the conversation)."""

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | Path | None = None,
        *,
        timeout: float | None = 30.0,
    ):
        super().__init__(target, token, tls, root_certificates, timeout)
        if self._credentials is None:
            self._channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.secure_channel(target, self._credentials, options=_CHANNEL_OPTIONS)
        self._stub = service_pb2_grpc.AvatarServiceStub(self._channel)

    def _unary(self, method: str, request, session_id: str = ""):
        metadata = self._session_metadata(session_id) if session_id else self._metadata
        try:
            return getattr(self._stub, method)(request, metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as err:
            raise self._fail(err, method) from None

    def list_identities(self) -> Identities:
        return _identities(self._unary("ListIdentities", session_pb2.ListIdentitiesRequest()))

    def create_session(
        self,
        characters: Sequence[str | Mapping[str, str] | session_pb2.Character],
        mode: str = "agent_agent",
        dialogue_backend: str = "scripted",
        topic: str = "",
        output: Mapping[str, Any] | session_pb2.OutputOptions | None = None,
        seed: int = 0,
        human_input: Mapping[str, Any] | session_pb2.HumanInput | None = None,
    ) -> SessionInfo:
        """Make a conversation between two characters (identity names, or dicts with identity/voice/persona).

        `mode` is "agent_agent" or "human_agent" (characters[0] is then the human); `output` takes the
        OutputOptions fields by name, enums as lower-case names, e.g. {"image_encoding": "raw_rgb", "fps": 25};
        `human_input` how the human is heard, e.g. {"recognize_speech": True, "barge_in": "finish_sentence",
        "end_of_speech_ms": 500}.
        """
        request = _create_request(characters, mode, dialogue_backend, topic, output, seed, human_input)
        return _session(self._unary("CreateSession", request))

    def close_session(self, session_id: str) -> int:
        """End a session and delete its stored tree; returns the rounds the tree held."""
        request = session_pb2.CloseSessionRequest(session_id=_session_id(session_id))
        return self._unary("CloseSession", request, request.session_id).rounds

    def get_tree(self, session_id: str) -> tree_pb2.TalkingTree:
        """The session's whole Interactive Talking Tree (every page), as the wire's TalkingTree message."""
        tree = self.get_tree_page(session_id)
        while tree.more:
            _merge_page(tree, self.get_tree_page(session_id, after_node=tree.nodes[-1].id))
        return tree

    def get_tree_page(self, session_id: str, after_node: int = 0, max_nodes: int = 0) -> tree_pb2.TalkingTree:
        """The nodes after `after_node`, at most `max_nodes` (0: the server's page limit); `.more` says if others
        follow."""
        request = _tree_request(session_id, after_node, max_nodes)
        return self._unary("GetTree", request, request.session_id)

    def converse(self, session_id: str) -> Conversation:
        """Open a Converse stream attached to `session_id`."""
        return Conversation(self, _session_id(session_id))

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AvatarClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- asyncio


def _peek(coroutine):
    """The result of a coroutine that finishes without waiting (a finished call's status), else None."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    return None


class AsyncConversation:
    """An asyncio Converse stream: `await` its methods to queue client events; `async for` typed events.

    The writer is the request iterator grpc drains from an asyncio.Queue in its own task; the reader is this
    object's `__anext__`, so a slow reader never holds back what the caller writes.
    """

    def __init__(self, client: AsyncAvatarClient, session_id: str):
        self.session_id = session_id
        self.header: Header | None = None
        self._client = client
        self._requests: asyncio.Queue = asyncio.Queue()
        self._ended = False
        self._closed = False
        self._finished = False
        self._requests.put_nowait(_Events.attach(session_id)[0])
        self._call = client._stub.Converse(self._request_iterator(), metadata=client._session_metadata(session_id))
        self._first_status: tuple[grpc.StatusCode | None, str | None] = (None, None)
        self._call.add_done_callback(self._remember_status)

    async def _request_iterator(self):
        while True:
            item = await self._requests.get()
            if item is _CLOSE:
                return
            yield item

    async def _put(self, events: list[converse_pb2.ClientEvent]) -> None:
        if self._ended or self._closed or self._finished:
            raise RuntimeError(f"the conversation on session {self.session_id!r} has ended; call converse() again")
        for event in events:
            # The server's flow control reaches the caller: at most _SEND_AHEAD events wait here unsent.
            while self._requests.qsize() >= _SEND_AHEAD and not self._call.done():
                await asyncio.sleep(0.005)
            self._requests.put_nowait(event)

    async def say(self, text: str) -> None:
        await self._put(_Events.say(text))

    async def user_audio(self, samples: Any, sample_rate: int = vocabulary.SAMPLE_RATE, *,
                         contains_playback: bool = False, captured_at_ms: int = 0) -> None:  # fmt: skip
        """The human's voice (see Conversation.user_audio)."""
        await self._put(_Events.user_audio(samples, sample_rate, contains_playback, captured_at_ms))

    async def user_utterance_end(self, transcript: str = "") -> None:
        await self._put(_Events.user_utterance_end(transcript))

    async def scripted_line(
        self,
        character: str,
        text: str = "",
        audio: Any = None,
        emotion: str | None = None,
        sample_rate: int = vocabulary.SAMPLE_RATE,
    ) -> None:
        await self._put(_Events.scripted_line(character, text, audio, emotion, sample_rate))

    async def advance(self, turns: int = 1) -> None:
        await self._put(_Events.advance(turns))

    async def interrupt(self) -> None:
        await self._put(_Events.interrupt())

    async def end(self) -> None:
        await self._put(_Events.end())
        self._ended = True
        self._requests.put_nowait(_CLOSE)

    async def close(self) -> None:
        """Cancel the stream now, without waiting for the server's StreamEnd."""
        if not self._closed and not self._finished:
            self._closed = True
            self._call.cancel()
        self._requests.put_nowait(_CLOSE)

    def __aiter__(self) -> AsyncConversation:
        return self

    async def __anext__(self) -> Event:
        if self._finished:
            raise StopAsyncIteration
        try:
            message = await self._call.read()
        except asyncio.CancelledError:
            # grpc raises CancelledError from read() once the call is cancelled; only ours ends the loop quietly.
            if not self._closed:
                raise
            self._finish()
            raise StopAsyncIteration from None
        except grpc.RpcError as err:
            self._finish()
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            raise self._client._fail(await self._true_error(err), "Converse") from None
        if message is grpc.aio.EOF:
            self._finish()
            raise StopAsyncIteration
        event = from_proto(message)
        if event is None:  # an event this client does not know: skipped
            return await self.__anext__()
        if isinstance(event, Header):
            self.header = event
        return event

    async def _true_error(self, err: grpc.RpcError) -> grpc.RpcError:
        """The server's status where grpc.aio masked it (grpc/grpc#36066): a write that races the server
        ending the call (e.g. an UNAUTHENTICATED abort before the attach is read) sets the status to INTERNAL
        "Internal error from Core", either over the real one (kept by _remember_status) or just before it."""
        if err.code() != grpc.StatusCode.INTERNAL or err.details() != _MASKED_DETAILS:
            return err
        code, details = self._first_status
        if code is not None and (code, details) != (grpc.StatusCode.INTERNAL, _MASKED_DETAILS):
            return _StatusError(code, details or "")  # the real status came first and was overwritten
        for _ in range(50):  # the masked status came first; the real one replaces it when it arrives
            await asyncio.sleep(0.01)
            code = await self._call.code()
            if code != grpc.StatusCode.INTERNAL:
                return _StatusError(code, await self._call.details())
        return err

    def _remember_status(self, call) -> None:
        # Runs once, as the call's first status is set: a later masking write (see _true_error) cannot touch it.
        self._first_status = (_peek(call.code()), _peek(call.details()))

    def _finish(self) -> None:
        self._finished = True
        self._requests.put_nowait(_CLOSE)

    async def __aenter__(self) -> AsyncConversation:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class AsyncAvatarClient(_ClientBase):
    """asyncio client of an eai-avatar server, on grpc.aio; the same methods as AvatarClient, awaited.

    Make it inside the event loop that uses it (grpc.aio channels belong to one loop).
    """

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | str | Path | None = None,
        *,
        timeout: float | None = 30.0,
    ):
        super().__init__(target, token, tls, root_certificates, timeout)
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(target, self._credentials, options=_CHANNEL_OPTIONS)
        self._stub = service_pb2_grpc.AvatarServiceStub(self._channel)

    async def _unary(self, method: str, request, session_id: str = ""):
        metadata = self._session_metadata(session_id) if session_id else self._metadata
        try:
            return await getattr(self._stub, method)(request, metadata=metadata, timeout=self.timeout)
        except grpc.RpcError as err:
            raise self._fail(err, method) from None

    async def list_identities(self) -> Identities:
        return _identities(await self._unary("ListIdentities", session_pb2.ListIdentitiesRequest()))

    async def create_session(
        self,
        characters: Sequence[str | Mapping[str, str] | session_pb2.Character],
        mode: str = "agent_agent",
        dialogue_backend: str = "scripted",
        topic: str = "",
        output: Mapping[str, Any] | session_pb2.OutputOptions | None = None,
        seed: int = 0,
        human_input: Mapping[str, Any] | session_pb2.HumanInput | None = None,
    ) -> SessionInfo:
        """See AvatarClient.create_session."""
        request = _create_request(characters, mode, dialogue_backend, topic, output, seed, human_input)
        return _session(await self._unary("CreateSession", request))

    async def close_session(self, session_id: str) -> int:
        request = session_pb2.CloseSessionRequest(session_id=_session_id(session_id))
        return (await self._unary("CloseSession", request, request.session_id)).rounds

    async def get_tree(self, session_id: str) -> tree_pb2.TalkingTree:
        """See AvatarClient.get_tree."""
        tree = await self.get_tree_page(session_id)
        while tree.more:
            _merge_page(tree, await self.get_tree_page(session_id, after_node=tree.nodes[-1].id))
        return tree

    async def get_tree_page(self, session_id: str, after_node: int = 0, max_nodes: int = 0) -> tree_pb2.TalkingTree:
        request = _tree_request(session_id, after_node, max_nodes)
        return await self._unary("GetTree", request, request.session_id)

    def converse(self, session_id: str) -> AsyncConversation:
        """Open a Converse stream attached to `session_id` (needs a running event loop)."""
        return AsyncConversation(self, _session_id(session_id))

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncAvatarClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
