"""`RuntimeConfig`: how a runtime runs, in one place: which engine backend runs each model, threads, the contract's
limits, how turns are chunked, the conversation store, and the server's address, token and TLS.

Sources, each overriding the one before: the defaults here; a TOML file (`--config FILE` or $EAI_AVATAR_CONFIG);
the environment ($EAI_AVATAR_*); command-line flags. `RuntimeConfig.load(...)` applies them in that order and
refuses unknown keys and bad values with a message naming them. A file looks like:

    threads = 2
    [engines]            # per model: onnxruntime | onnxruntime-cuda | tensorrt | triton
    renderer = "onnxruntime"
    [triton]             # the server of the models whose engine is "triton"
    url = "127.0.0.1:8001"
    [batching]           # every session's renderer calls in shared batches (off: see DESIGN.md section 14)
    renderer = false
    [limits]
    queued_events = 32
    [store]
    path = "/var/lib/eai-avatar/conversations.db"   # or "postgresql://db.internal:5432/avatars"
    retries = 2
    [server]
    port = 50051
    token_file = "/run/secrets/eai-avatar-token"
    livelink = "192.168.1.20:11111"   # Unreal Live Link Face packets, one subject per avatar
    web = "127.0.0.1:8080"            # the browser page: both avatars over WebRTC
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from eai_avatar.vocabulary import MAX_TEXT_CHARS

#: The models of a bundle that run on an engine, and the backends that can run them. "onnxruntime-cuda" is
#: onnxruntime with its CUDA provider (pip install 'eai-avatar[gpu]'); "tensorrt" needs plans built for this GPU;
#: "triton" asks the Triton Inference Server at `[triton] url` (pip install 'eai-avatar[triton]').
MODELS = ("crhmg_encoder", "crhmg_generator", "audio2exp", "renderer")
ENGINE_BACKENDS = ("onnxruntime", "onnxruntime-cuda", "tensorrt", "triton")


@dataclass(frozen=True)
class Limits:
    """The contract's limits and the server's bounds, in one place (proto/ documents the same numbers)."""

    text_chars: int = MAX_TEXT_CHARS  # UserText, ScriptedLine.text, a transcript
    advance_turns: int = 100  # Advance.turns
    audio_chunk_s: float = 1.0  # one UserAudioChunk
    utterance_s: float = 60.0  # one human utterance (audio chunks until its end)
    voice_line_s: float = 60.0  # ScriptedLine.audio
    persona_chars: int = 500
    topic_chars: int = 200
    queued_events: int = 32  # client events read ahead per stream; beyond it the server stops reading
    outbox_events: int = 32  # server events made ahead of the client (about a chunk); beyond it the session waits
    message_bytes: int = 8 << 20  # largest client message gRPC accepts (a 60 s voice line at 48 kHz is 5.8 MB)
    idle_sessions: int = 64  # sessions kept in memory with no stream attached (others reload from the store)
    tree_page_nodes: int = 10_000  # GetTree: most nodes per response


@dataclass(frozen=True)
class Chunking:
    """How a turn's media is cut: the first chunk short so the first frame leaves early, then about half a second
    so the renderer batches and an Interrupt lands within one chunk."""

    first_chunk_frames: int = 3
    chunk_frames: int = 12
    # Frames per renderer call: a chunk of both avatars (24 frames) in one batch held 140-240 MB of activations
    # (kept by the allocator); 6 at a time hold 25-60 MB, at the same speed per frame on 2 cores.
    render_batch: int = 6


@dataclass(frozen=True)
class BatchingConfig:
    """Gathering one process's renderer calls from every session into shared batches (`runtime/engines/batching.py`).

    Off by default: on this CPU a batch costs what its frames cost one by one (DESIGN.md section 14), so the
    batcher pays only on an engine whose per-frame cost falls with the batch (a GPU)."""

    renderer: bool = False
    max_batch: int = 12  # most frames per renderer batch, from all sessions
    max_wait_ms: float = 0.0  # how long a batch waits for more frames (0: takes what waits when the engine is free)


@dataclass(frozen=True)
class StoreConfig:
    """The conversation store. `path` is a SQLite file (empty: $EAI_AVATAR_DB, else
    ~/.local/share/eai-avatar/conversations.db; ":memory:" keeps nothing) or a postgresql:// URL, whose tables are
    in `schema` (the `postgres` extra). A write that meets a lock waits `lock_timeout_s`, then is retried `retries`
    times `retry_backoff_s` apart (doubling) before the client is told the store is unavailable. A replica driving a
    session holds its lease for `lease_ttl_s`, renewed every third of it: after a replica dies, another may take its
    sessions over that long after its last renewal (DESIGN.md section 13)."""

    path: str = ""
    schema: str = "eai_avatar"  # PostgreSQL only: replicas that share a conversation share the schema
    lock_timeout_s: float = 2.0
    retries: int = 2
    retry_backoff_s: float = 0.25
    lease_ttl_s: float = 10.0


@dataclass(frozen=True)
class ServerConfig:
    """Where and how the gRPC server listens. The token comes from `token_file` or $EAI_AVATAR_TOKEN (a flag is
    visible to every user in `ps`); an empty token is refused, never taken as "no authentication"."""

    host: str = "127.0.0.1"
    port: int = 50051
    token: str | None = field(default=None, repr=False)
    token_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    publish: str = ""  # ZeroMQ address of the frame publisher, e.g. tcp://127.0.0.1:5556
    livelink: str = ""  # HOST:PORT that gets every avatar's face as Live Link Face packets (Unreal), e.g. :11111
    livelink_device: str = "eai-avatar"  # the device id those packets carry
    web: str = ""  # HOST:PORT of the browser page (WebRTC), e.g. 127.0.0.1:8080; empty: none
    # This server's name in session leases; empty: the host's name. Replicas on one store need different ones; a
    # replica restarted under its name takes its sessions back at once, under a new one after their leases run out.
    replica_id: str = ""
    reflection: bool = True


@dataclass(frozen=True)
class TritonConfig:
    """The Triton Inference Server that runs the models whose engine is "triton" (gRPC, each model under its bundle
    name: `eai-avatar triton serve` or the repository `eai-avatar export --triton-repo` writes). A call that gets no
    answer within `timeout_s` fails its turn with UNAVAILABLE."""

    url: str = "127.0.0.1:8001"
    timeout_s: float = 10.0


@dataclass(frozen=True)
class RuntimeConfig:
    bundle: str = ""  # engine bundle folder; empty: the bundle that ships
    speech_recognizer: str = "whisper"  # a human's speech: whisper (offline), openai (an endpoint) or none
    engines: Mapping[str, str] = field(default_factory=lambda: dict.fromkeys(MODELS, "onnxruntime"))
    threads: int = 2  # onnxruntime intra-op threads per model, and model worker threads
    limits: Limits = Limits()
    chunking: Chunking = Chunking()
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    triton: TritonConfig = TritonConfig()
    batching: BatchingConfig = BatchingConfig()

    def __post_init__(self):
        engines = dict.fromkeys(MODELS, "onnxruntime") | dict(self.engines)
        for model, backend in engines.items():
            if model not in MODELS:
                raise ValueError(f"engines: unknown model {model!r}; models are {', '.join(MODELS)}")
            if backend not in ENGINE_BACKENDS:
                raise ValueError(f"engines.{model}: unknown backend {backend!r}; choose {', '.join(ENGINE_BACKENDS)}")
        object.__setattr__(self, "engines", engines)
        _positive(self, "threads")
        if self.speech_recognizer not in ("whisper", "openai", "none"):
            raise ValueError(f"speech_recognizer must be whisper, openai or none, got {self.speech_recognizer!r}")
        for section in (self.limits, self.chunking):
            for item in fields(section):
                _positive(section, item.name)
        _positive(self.triton, "timeout_s")
        _positive(self.batching, "max_batch")
        if not self.batching.max_wait_ms >= 0:
            raise ValueError(f"batching.max_wait_ms must be >= 0, got {self.batching.max_wait_ms!r}")
        if not self.triton.url.strip():
            raise ValueError("triton.url is empty; give the server's host:port (Triton's gRPC port is 8001)")
        if self.store.retries < 0 or self.store.lock_timeout_s <= 0 or self.store.retry_backoff_s < 0:
            raise ValueError("store: retries and retry_backoff_s must be >= 0 and lock_timeout_s > 0")
        if not self.store.lease_ttl_s >= 0.1:
            raise ValueError(f"store.lease_ttl_s must be at least 0.1 s, got {self.store.lease_ttl_s!r}")
        if self.server.replica_id != self.server.replica_id.strip():
            raise ValueError(f"server.replica_id {self.server.replica_id!r} has spaces around it")
        from eai_avatar.runtime.store.locations import check_location, check_schema_name

        check_location(self.store.path)
        check_schema_name(self.store.schema)
        if not 0 <= self.server.port <= 65535:
            raise ValueError(f"server.port must be 0..65535, got {self.server.port}")
        token = self.server.token
        if token is not None and (not token.strip() or token != token.strip()):
            raise ValueError(
                "the auth token is empty or has spaces around it; an empty token would turn "
                "authentication off, so it is refused (leave it unset for no authentication)"
            )
        if bool(self.server.tls_cert) != bool(self.server.tls_key):
            raise ValueError("TLS needs both a certificate (tls_cert) and a key (tls_key)")
        if self.server.livelink:
            from eai_avatar.runtime.outputs.livelink import check_device_id, parse_target

            parse_target(self.server.livelink)
            check_device_id(self.server.livelink_device)
        if self.server.web:
            from eai_avatar.runtime.outputs.web import parse_address

            parse_address(self.server.web)

    # ------------------------------------------------------------------ sources

    @classmethod
    def load(cls, file: str | Path | None = None, env: Mapping[str, str] | None = None,
             overrides: Mapping[str, Any] | None = None) -> RuntimeConfig:  # fmt: skip
        """Defaults < `file` (or $EAI_AVATAR_CONFIG) < environment < `overrides` (flags; None values are unset).

        `overrides` use dotted names for nested fields: {"threads": 1, "store.path": "x.db", "engines.renderer":
        "tensorrt", "server.port": 0}. The token is resolved last: token_file, else $EAI_AVATAR_TOKEN."""
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        file = file or env.get("EAI_AVATAR_CONFIG")
        if file:
            path = Path(file)
            if not path.is_file():
                raise FileNotFoundError(f"runtime config file not found: {path}")
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path} is not valid TOML: {exc}") from None
        for key, value in _from_environment(env).items():
            _set_dotted(data, key, value)
        for key, value in (overrides or {}).items():
            if value is not None:
                _set_dotted(data, key, value)
        config = cls.from_dict(data)
        return replace(config, server=replace(config.server, token=_resolve_token(config.server, env)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuntimeConfig:
        sections = {"limits": Limits, "chunking": Chunking, "store": StoreConfig, "server": ServerConfig,
                    "triton": TritonConfig, "batching": BatchingConfig}  # fmt: skip
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                values[key] = _build(sections[key], value, key)
            elif key == "engines":
                if not isinstance(value, Mapping):
                    raise ValueError("engines must be a table of model = backend")
                values[key] = dict(value)
            elif key in ("bundle", "threads", "speech_recognizer"):
                values[key] = _coerce(key, value, {"bundle": str, "threads": int, "speech_recognizer": str}[key])
            else:
                raise ValueError(f"unknown runtime config key {key!r}; known: bundle, threads, speech_recognizer, "
                                 f"engines, {', '.join(sections)}")  # fmt: skip
        return cls(**values)

    def to_dict(self) -> dict:
        """JSON-ready, without the token or a password in the store's URL."""
        from eai_avatar.runtime.store.locations import redact_url

        data = dataclasses.asdict(self)
        data["server"].pop("token")
        data["store"]["path"] = redact_url(self.store.path)
        return data

    def store_path(self) -> str:
        """The store's file or URL (`store.path`, else the default file)."""
        from eai_avatar.runtime.store.base import default_db_path

        return self.store.path or str(default_db_path())

    def open_store(self):
        """The conversation store this config names (SQLite or PostgreSQL), opened: see `runtime/store`."""
        from eai_avatar.runtime.store.locations import open_store

        return open_store(self.store_path(), lock_timeout_s=self.store.lock_timeout_s, schema=self.store.schema)


def _positive(section, name: str) -> None:
    value = getattr(section, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{type(section).__name__}.{name} must be a positive number, got {value!r}")


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value.lower() in ("1", "true", "yes")
    try:
        return kind(value) if not isinstance(value, kind) else value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {kind.__name__}, got {value!r}") from None


def _build(section_class, value: Any, name: str):
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a table")
    known = {f.name: f for f in fields(section_class)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)} in [{name}]; known: {', '.join(known)}")
    kinds = {f.name: type(f.default) if f.default is not None else str for f in known.values()}
    return section_class(**{key: _coerce(f"{name}.{key}", v, kinds[key]) for key, v in value.items()})


def _set_dotted(data: dict, key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if rest:
        _set_dotted(data.setdefault(head, {}), rest, value)
    else:
        data[head] = value


#: Environment variables and the config keys they set.
ENVIRONMENT = {
    "EAI_AVATAR_BUNDLE": "bundle",
    "EAI_AVATAR_THREADS": "threads",
    "EAI_AVATAR_SPEECH_RECOGNIZER": "speech_recognizer",
    "EAI_AVATAR_DB": "store.path",
    "EAI_AVATAR_DB_SCHEMA": "store.schema",
    "EAI_AVATAR_TOKEN_FILE": "server.token_file",
    "EAI_AVATAR_REPLICA_ID": "server.replica_id",
    "EAI_AVATAR_TRITON_URL": "triton.url",
    "EAI_AVATAR_LIVELINK": "server.livelink",
    "EAI_AVATAR_WEB": "server.web",
    "EAI_AVATAR_BATCH_RENDERER": "batching.renderer",
    "EAI_AVATAR_ENGINE": "engines.*",  # every model
    **{f"EAI_AVATAR_ENGINE_{model.upper()}": f"engines.{model}" for model in MODELS},
}


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, key in ENVIRONMENT.items():
        if variable in env and env[variable] != "":
            if key == "engines.*":
                values.update({f"engines.{model}": env[variable] for model in MODELS})
            else:
                values[key] = env[variable]
    # A model's own variable wins over EAI_AVATAR_ENGINE.
    for model in MODELS:
        own = env.get(f"EAI_AVATAR_ENGINE_{model.upper()}")
        if own:
            values[f"engines.{model}"] = own
    return values


def _resolve_token(server: ServerConfig, env: Mapping[str, str]) -> str | None:
    if server.token is not None:
        return server.token
    if server.token_file:
        path = Path(server.token_file)
        if not path.is_file():
            raise FileNotFoundError(f"token file not found: {path}")
        token = path.read_text(encoding="utf-8").strip()
        if not token:
            raise ValueError(f"the token file {path} is empty; an empty token would turn authentication off")
        return token
    if "EAI_AVATAR_TOKEN" in env:
        token = env["EAI_AVATAR_TOKEN"].strip()
        if not token:
            raise ValueError("$EAI_AVATAR_TOKEN is set but empty; an empty token would turn authentication off "
                             "(unset it for no authentication)")  # fmt: skip
        return token
    return None
