"""Two servers (replicas, different replica ids) on one store, SQLite file or PostgreSQL alike: a session is driven by
one of them at a time. The other refuses to attach it (UNAVAILABLE, naming the holder) but reads its tree; a stream
that ends lets go, so the other takes the session at once and goes on from the stored tree and clock; CloseSession on
either ends the stream on the other. (Processes killed and stopped: tests/runtime/service/test_replicas.py.)"""

import asyncio
from dataclasses import replace

import grpc
import pytest

from eai_avatar.v1 import converse_pb2, session_pb2, tree_pb2
from tests.contract.conftest import Stream, create, of, running


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store(request, tmp_path, models):
    """(config of replica a, config of replica b) on one store, with a short lease."""
    store = replace(models.config.store, path=str(tmp_path / "shared.db"), lease_ttl_s=1.0)
    if request.param == "postgres":
        postgres_url, schema = request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema")
        store = replace(store, path=postgres_url, schema=schema)
    base = replace(models.config, store=store)
    return tuple(replace(base, server=replace(base.server, replica_id=name)) for name in ("a", "b"))


def test_one_replica_drives_a_session_and_hands_it_over_when_its_stream_ends(models, shared_store):
    config_a, config_b = shared_store

    async def scenario():
        async with (
            running(models, None, config_a, store=config_a.open_store()) as (stub_a, *_),
            running(models, None, config_b, store=config_b.open_store()) as (stub_b, *_),
        ):
            session_id = await create(stub_b)  # made on b, driven first on a: any replica serves any call
            on_a = await Stream(stub_a, session_id).attach()
            await on_a.line("ada", "Driven by the first replica.")
            await on_a.until("turn_ended")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await (await Stream(stub_b, session_id).attach()).until("header")
            read_by_b = await stub_b.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            await asyncio.sleep(1.5)  # longer than the lease: a's stream renews it
            with pytest.raises(grpc.aio.AioRpcError) as still_refused:
                await (await Stream(stub_b, session_id).attach()).until("header")
            await on_a.send(end=converse_pb2.EndStream())
            await on_a.until("end")
            on_b = await Stream(stub_b, session_id).attach()  # a let go: at once, no lease to wait out
            header = (await on_b.until("header"))[0].header
            await on_b.line("bo", "Driven by the second one now.")
            await on_b.until("turn_ended")
            with pytest.raises(grpc.aio.AioRpcError) as refused_by_a:
                await (await Stream(stub_a, session_id).attach()).until("header")
            read_by_a = await stub_a.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))  # not a's old copy
            closed = await stub_a.CloseSession(session_pb2.CloseSessionRequest(session_id=session_id))
            ended_on_b = await on_b.until("end", timeout=10)  # b learns it at its next renewal
            return (refused.value, still_refused.value, read_by_b, on_a.events, header, on_b.events,
                    refused_by_a.value, read_by_a, closed, ended_on_b)  # fmt: skip

    (refused, still_refused, read_by_b, events_a, header, events_b, refused_by_a, read_by_a, closed,
     ended_on_b) = asyncio.run(scenario())  # fmt: skip
    for error, holder in ((refused, "a"), (still_refused, "a"), (refused_by_a, "b")):
        assert error.code() == grpc.StatusCode.UNAVAILABLE and f"is driven by replica '{holder}'" in error.details()
        assert dict(error.trailing_metadata())["eai-avatar-lease-holder"] == holder
    assert [n.text for n in read_by_b.nodes] == ["Driven by the first replica."] * 2
    played = sum(e.duration_ms for e in of(events_a, "turn_ended"))
    assert header.rounds_so_far == 1 and header.clock_ms == played
    started = of(events_b, "turn_started")[0]
    assert (started.round, started.start_ms) == (2, played)
    assert [n.id for n in read_by_a.nodes] == [1, 2, 3, 4] and read_by_a.nodes[2].parent == 2
    assert closed.rounds == 2 and of(ended_on_b, "end")[0].reason == "session closed"
