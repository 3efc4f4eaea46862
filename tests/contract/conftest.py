"""The contract suite drives a real server (the gRPC server of `eai-avatar serve`, in this process, over loopback)
with the wire's own messages, not the SDK: what a client in any language sees is what is tested."""

from __future__ import annotations

import asyncio
import contextlib
import time

import grpc
import pytest

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.pipeline import Models
from eai_avatar.runtime.server import AvatarServicer, create_server
from eai_avatar.runtime.sessions import SessionManager
from eai_avatar.runtime.store import ConversationStore, SqliteStore
from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2_grpc, session_pb2

FAST = session_pb2.OutputOptions(pacing=session_pb2.PACING_AS_FAST_AS_POSSIBLE, include_images=False)


@pytest.fixture(scope="session")
def models():
    pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")
    return Models(Bundle(default_bundle_path()), threads=2)


@contextlib.asynccontextmanager
async def running(models, db, config: RuntimeConfig | None = None, token: str | None = None, lock_timeout_s=10.0,
                  store: ConversationStore | None = None):  # fmt: skip
    """A started server on a free port, on the SQLite file `db` or on `store` (closed with the server); yields
    (stub, manager, servicer, channel)."""
    config = config or models.config
    store = store or SqliteStore(db, timeout_s=lock_timeout_s)
    manager = SessionManager(models, store, config)
    servicer = AvatarServicer(manager=manager, workers=2)
    server, port = await create_server("127.0.0.1:0", servicer, token=token)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield service_pb2_grpc.AvatarServiceStub(channel), manager, servicer, channel
    finally:
        await channel.close()
        await server.stop(None)
        manager.store.close()


#: The client says where utterances end and what they said (the tests of speech recognition ask for it).
CLIENT_SPEECH = session_pb2.HumanInput(recognize_speech=False)


async def create(stub, characters=("ada", "bo"), mode=session_pb2.MODE_AGENT_AGENT, output=FAST, seed=7,
                 human_input=CLIENT_SPEECH, **fields):  # fmt: skip
    request = session_pb2.CreateSessionRequest(characters=[session_pb2.Character(identity=c) for c in characters],
                                               mode=mode, output=output, seed=seed, human_input=human_input,
                                               **fields)  # fmt: skip
    return (await stub.CreateSession(request)).session_id


class Stream:
    """A Converse call written event by event (`send` waits for HTTP/2 flow control) and read with deadlines."""

    def __init__(self, stub, session_id: str):
        self.call = stub.Converse()
        self.session_id = session_id
        self.events: list[converse_pb2.ServerEvent] = []
        self.arrivals: list[tuple[converse_pb2.ServerEvent, float]] = []  # each event with when it arrived

    async def attach(self):
        await self.send(attach=converse_pb2.Attach(session_id=self.session_id))
        return self

    async def send(self, **event):
        await self.call.write(converse_pb2.ClientEvent(**event))

    async def line(self, character: str, text: str, **fields):
        await self.send(scripted_line=converse_pb2.ScriptedLine(character=character, text=text, **fields))

    async def read(self, timeout: float = 60.0) -> converse_pb2.ServerEvent | None:
        message = await asyncio.wait_for(self.call.read(), timeout)
        if message is grpc.aio.EOF:
            return None
        self.events.append(message)
        self.arrivals.append((message, time.monotonic()))
        return message

    async def until(self, kind: str, count: int = 1, timeout: float = 60.0) -> list[converse_pb2.ServerEvent]:
        """Read until `count` events of `kind` have come (all events read are kept in `self.events`)."""
        deadline, seen, read = time.monotonic() + timeout, 0, []
        while seen < count:
            event = await self.read(max(0.01, deadline - time.monotonic()))
            if event is None:
                raise AssertionError(f"the stream ended before {count} {kind} events; got {kinds(read)}")
            read.append(event)
            seen += event.WhichOneof("event") == kind
        return read


def kinds(events) -> list[str]:
    return [e.WhichOneof("event") for e in events]


def of(events, kind):
    return [getattr(e, kind) for e in events if e.WhichOneof("event") == kind]


def statuses(events, grpc_code: grpc.StatusCode | None = None) -> list[common_pb2.Status]:
    found = of(events, "status")
    return [s for s in found if grpc_code is None or s.grpc_code == grpc_code.value[0]]
