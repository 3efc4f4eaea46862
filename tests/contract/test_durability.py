"""Durability: a turn is stored whole or not at all, a fault is a clear status, a restart resumes a readable tree,
and a long conversation costs per turn what a short one does."""

import asyncio
import statistics
import subprocess
import sys
import textwrap
import time

import grpc
import pytest

from eai_avatar.runtime.config import RuntimeConfig, StoreConfig
from eai_avatar.runtime.pipeline import Conversation, TurnRequest
from eai_avatar.runtime.store import SessionRecord, SqliteStore
from eai_avatar.v1 import converse_pb2, session_pb2, tree_pb2
from tests.contract.conftest import Stream, create, of, running, statuses
from tests.runtime.pipeline.fakes import FakeModels

LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    sys.stdout.write("locked\\n")
    sys.stdout.flush()
    sys.stdin.readline()  # held until the test says so
    db.execute("ROLLBACK")
    """
)


def test_a_locked_store_during_a_turn_is_unavailable_and_a_restart_resumes_a_whole_tree(models, tmp_path):
    db = tmp_path / "s.db"
    quick = RuntimeConfig(store=StoreConfig(lock_timeout_s=0.2, retries=1, retry_backoff_s=0.05))

    async def before_restart():
        async with running(models, db, quick, lock_timeout_s=0.2) as (stub, *_):
            session_id = await create(stub)
            stream = await Stream(stub, session_id).attach()
            await stream.line("ada", "Before the lock.")
            await stream.until("turn_ended")
            locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)  # fmt: skip
            assert locker.stdout.readline().strip() == "locked"
            await stream.line("bo", "During the lock.")
            failed = await stream.until("status")
            locker.communicate("\n", timeout=10)
            await stream.line("bo", "After the lock.")
            await stream.until("turn_ended")
            return session_id, failed, stream.events

    session_id, failed, events = asyncio.run(before_restart())
    status = of(failed, "status")[0]
    assert status.grpc_code == grpc.StatusCode.UNAVAILABLE.value[0] and "write lock" in status.message
    assert [t.text for t in of(events, "turn_started")] == ["Before the lock.", "After the lock."]
    assert [t.round for t in of(events, "turn_started")] == [1, 2]  # the failed turn took no round

    async def after_restart():
        async with running(models, db) as (stub, *_):  # a new server on the same store
            tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            stream = await Stream(stub, session_id).attach()
            header = (await stream.until("header"))[0].header
            await stream.line("ada", "After the restart.")
            await stream.until("turn_ended")
            return tree, header, stream.events

    tree, header, resumed = asyncio.run(after_restart())
    assert [n.id for n in tree.nodes] == [1, 2, 3, 4] and tree.nodes[2].text == "After the lock."
    ended = of(events, "turn_ended")
    assert header.rounds_so_far == 2 and header.clock_ms == sum(e.duration_ms for e in ended)
    assert of(resumed, "turn_started")[0].start_ms == header.clock_ms  # the clock goes on, it does not restart


def test_a_damaged_stored_tree_is_failed_precondition_not_unknown(models, tmp_path):
    db = tmp_path / "s.db"

    async def scenario():
        async with running(models, db) as (stub, manager, *_):
            session_id = await create(stub)
            stream = await Stream(stub, session_id).attach()
            await stream.line("ada", "One.")
            await stream.line("bo", "Two.")
            await stream.until("turn_ended", 2)
            broken_record = await create(stub)
        with SqliteStore(db) as store:  # what the old runtime left after a failed write: a gap
            store._db.execute("DELETE FROM nodes WHERE node_id IN (1, 2)")
            store._db.execute("UPDATE sessions SET metadata = '{not json' WHERE session_id = ?", (broken_record,))
        async with running(models, db) as (stub, *_):
            failures = []
            for broken in (session_id, broken_record):
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await stub.GetTree(tree_pb2.GetTreeRequest(session_id=broken))
                failures.append(failure.value)
            closed = [(await stub.CloseSession(session_pb2.CloseSessionRequest(session_id=broken))).rounds
                      for broken in (session_id, broken_record)]  # fmt: skip
            return failures, closed

    failures, closed = asyncio.run(scenario())
    for error in failures:
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "damaged" in error.details()
    assert closed == [1, 0]  # a damaged session can still be closed (and its rounds counted)


def test_two_thousand_turns_keep_turn_planning_flat_and_the_tree_pages(tmp_path):
    """Planning a turn (emotion, voice, tree, Q, store, the dialogue's context) at round 2,000 costs what it costs at
    round 20: Q is kept incrementally, the dialogue gets the recent lines, the store appends."""
    store = SqliteStore(tmp_path / "long.db")
    store.create_session(SessionRecord("long", ("ada", "bo"), 0, {}))
    conversation = Conversation(FakeModels(), ("ada", "bo"), seed=1, store=store, session_id="long")
    times = []
    for turn in range(2000):
        started = time.perf_counter()
        conversation.dialogue_context(None, {}, "")
        conversation.plan_turn(TurnRequest(("ada", "bo")[turn % 2], ("happy to see you", "sad news", "ok")[turn % 3]))
        times.append(time.perf_counter() - started)
    early, late = statistics.median(times[10:60]), statistics.median(times[-50:])
    assert late < 0.030 and late < 2 * early + 0.002, (early, late)
    assert len(store.load_tree("long")) == 4000
    store.close()


def test_get_tree_pages_through_a_long_tree(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, manager, *_):
            session_id = await create(stub)
            session = await asyncio.to_thread(manager.get, session_id)
            for turn in range(30):
                utterance = session.conversation.prepare(TurnRequest(("ada", "bo")[turn % 2], f"line {turn}",
                                                                     emotion_override="happy"))  # fmt: skip
                session.conversation.commit(utterance)
            pages, after = [], 0
            while True:
                page = await stub.GetTree(
                    tree_pb2.GetTreeRequest(session_id=session_id, after_node=after, max_nodes=25)
                )
                pages.append(page)
                if not page.more:
                    break
                after = page.nodes[-1].id
            whole = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return pages, whole

    pages, whole = asyncio.run(scenario())
    assert [len(p.nodes) for p in pages] == [25, 25, 10] and all(p.last_node == 60 for p in pages)
    assert [n.id for p in pages for n in p.nodes] == list(range(1, 61)) == [n.id for n in whole.nodes]
    assert not whole.more and whole.nodes[59].accumulated.label == "happy"


def test_end_stream_after_queued_work_and_the_session_survives(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub)
            stream = await Stream(stub, session_id).attach()
            await stream.send(advance=converse_pb2.Advance(turns=2))
            await stream.send(end=converse_pb2.EndStream())
            await stream.until("end")
            tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return stream.events, tree

    events, tree = asyncio.run(scenario())
    assert len(of(events, "turn_ended")) == 2 and len(tree.nodes) == 4 and not statuses(events)
