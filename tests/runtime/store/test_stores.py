"""What every conversation store guarantees, on SQLite and on PostgreSQL alike: exact reloads, a round stored whole
or not at all, ids without gaps whoever writes, several writers (threads, processes, replicas), nothing committed
lost to SIGKILL, and faults as StoreUnavailable."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree
from eai_avatar.runtime.store import (
    SessionNotFoundError,
    SessionRecord,
    StoreCorrupt,
    StoreUnavailable,
    commit_round,
)
from tests.runtime.itt.conftest import build_three_rounds


def _record(session_id="s1", characters=("ada", "bo"), created=1_700_000_000_000):
    return SessionRecord(session_id, characters, created, {"mode": "agent-agent", "seed": 3})


def _converse(store, session_id, rounds, label=""):
    """Store `rounds` rounds one at a time, as the runtime does."""
    tree = InteractiveTalkingTree(["ada", "bo"])
    for r in range(rounds):
        speak, listen = tree.add_round("ada" if r % 2 else "bo", f"{label}{r}", EmotionEstimate.certain("sad"))
        store.append_nodes(session_id, [speak, listen], clock_ms=40 * (r + 1))
    return tree


def test_reload_is_exact_across_store_instances(backend):
    tree = build_three_rounds()
    with backend.open() as store:
        store.create_session(_record())
        store.append_nodes("s1", tree.nodes[:2])  # one round at a time, as the runtime does
        store.append_nodes("s1", tree.nodes[2:])
    with backend.open() as store:
        assert store.get_session("s1") == _record()
        reloaded = store.load_tree("s1")
    assert reloaded.nodes == tree.nodes  # every field, forward links included
    assert reloaded.characters == ("ada", "bo")


def test_unknown_session_and_duplicates(backend):
    with backend.open() as store:
        for call in (store.get_session, store.load_nodes, store.load_tree, store.delete_session, store.count_rounds):
            with pytest.raises(SessionNotFoundError, match="no session 'nope'"):
                call("nope")
        for call in (lambda: store.set_clock("nope", 1), lambda: store.update_metadata("nope", {})):
            with pytest.raises(SessionNotFoundError):
                call()
        tree = build_three_rounds()
        with pytest.raises(SessionNotFoundError):
            store.append_nodes("nope", tree.nodes[:2])
        with pytest.raises(SessionNotFoundError):
            store.get_session("no\x00pe")  # a NUL (which PostgreSQL text cannot hold) is just not a stored id
        store.create_session(_record())
        with pytest.raises(ValueError, match="already exists"):
            store.create_session(_record())
        with pytest.raises(ValueError, match="non-empty"):
            store.create_session(_record(""))
        store.append_nodes("s1", tree.nodes[:2])
        # an append is atomic: v3 is new but v2 is stored, so neither lands
        with pytest.raises(ValueError, match="already stored"):
            store.append_nodes("s1", tree.nodes[1:3])
        assert [n.id for n in store.load_nodes("s1")] == [1, 2]
        store.update_metadata("s1", {"mode": "human-agent", "persona": "calm"})
        assert store.get_session("s1").metadata == {"mode": "human-agent", "persona": "calm"}
        store.delete_session("s1")
        assert store.list_sessions() == []


def test_sessions_are_listed_oldest_first(backend):
    with backend.open() as store:
        for session_id, created in (("b", 5), ("c", 3), ("a", 5), ("B", 5)):
            store.create_session(_record(session_id, created=created))
        assert [r.session_id for r in store.list_sessions()] == ["c", "B", "a", "b"]  # ties in byte order


def test_deleting_a_session_takes_its_tree_and_nothing_else(backend):
    with backend.open() as store:
        for session_id in ("gone", "kept"):
            store.create_session(_record(session_id))
            _converse(store, session_id, 3)
        assert store.count_rounds("gone") == 3
        store.delete_session("gone")
        with pytest.raises(SessionNotFoundError):
            store.delete_session("gone")
        with pytest.raises(SessionNotFoundError):
            store.load_nodes("gone")
        assert [r.session_id for r in store.list_sessions()] == ["kept"] and len(store.load_tree("kept")) == 6
        store.create_session(_record("gone"))  # the id can be used again, and starts empty
        assert store.load_nodes("gone") == [] and store.count_rounds("gone") == 0
        _converse(store, "gone", 1)
        assert [n.id for n in store.load_nodes("gone")] == [1, 2]


def test_a_corrupt_stored_tree_is_refused_and_can_still_be_closed(backend):
    with backend.open() as store:
        store.create_session(_record())
        store.append_nodes("s1", build_three_rounds().nodes)
        store.create_session(_record("s2"))
    backend.execute("UPDATE nodes SET depth = 7 WHERE node_id = 3")
    backend.execute("UPDATE sessions SET metadata = '{not json' WHERE session_id = 's2'")
    with backend.open() as store:
        with pytest.raises(StoreCorrupt, match="node 3: stored depth 7"):
            store.load_tree("s1")
        with pytest.raises(StoreCorrupt, match="stored record of session 's2' is damaged"):
            store.get_session("s2")
        assert store.count_rounds("s1") == 3 and store.count_rounds("s2") == 0
        store.delete_session("s1")
        store.delete_session("s2")


def test_an_append_that_would_leave_a_gap_is_refused(backend):
    nodes = build_three_rounds().nodes
    with backend.open() as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:2])
        with pytest.raises(ValueError, match="gap"):
            store.append_nodes("s1", nodes[4:6])
        assert [n.id for n in store.load_nodes("s1")] == [1, 2]


@pytest.mark.parametrize("where", ["node 4", "clock"])
def test_a_round_that_fails_midway_stores_nothing_and_leaves_no_gap(backend, where):
    """The database refuses the round's second node (its first is already inserted) or the clock after both: the
    transaction rolls back whole, and the same round then commits with the same ids."""
    nodes = build_three_rounds().nodes
    with backend.open() as store:
        store.create_session(_record())
        commit_round(store, "s1", nodes[:2], 80)
        backend.fail_writes(where)
        quick = {"retries": 1, "backoff_s": 0, "sleep": lambda s: None}
        with pytest.raises((StoreUnavailable, ValueError)):  # SQLite's RAISE is a constraint; PostgreSQL's a full disk
            commit_round(store, "s1", nodes[2:4], 160, **quick)
        assert [n.id for n in store.load_nodes("s1")] == [1, 2] and store.get_session("s1").clock_ms == 80
        backend.stop_failing()
        commit_round(store, "s1", nodes[2:4], 160, **quick)
        commit_round(store, "s1", nodes[4:6], 240, **quick)
        tree = store.load_tree("s1")  # from_nodes checks every id and link
    assert [n.id for n in tree.nodes] == [1, 2, 3, 4, 5, 6] and tree.nodes == nodes


def test_the_clock_commits_with_the_round_and_survives_reopening(backend):
    nodes = build_three_rounds().nodes
    with backend.open() as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:2], clock_ms=2480)
        assert store.get_session("s1").clock_ms == 2480
        store.set_clock("s1", 1960)  # the turn was interrupted: the clock is where it really ended
    with backend.open() as store:
        assert store.get_session("s1").clock_ms == 1960


def test_an_interrupted_turn_keeps_the_words_it_said(backend):
    nodes = build_three_rounds().nodes
    with backend.open() as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:4])
        store.mark_interrupted("s1", 3, "Good news, I", clock_ms=900)
        with pytest.raises(ValueError, match="no stored speak node 4"):
            store.mark_interrupted("s1", 4, "x")
    with backend.open() as store:
        tree = store.load_tree("s1")
        assert (tree.node(3).interrupted, tree.node(3).spoken_text) == (True, "Good news, I")
        assert not tree.node(1).interrupted and store.get_session("s1").clock_ms == 900


def test_two_store_instances_see_each_others_commits(backend):
    """Two replicas on one database: what one commits, the other reads at once, and continues."""
    with backend.open() as replica_a, backend.open() as replica_b:
        replica_a.create_session(_record())
        tree = build_three_rounds()
        replica_a.append_nodes("s1", tree.nodes[:2], clock_ms=100)
        seen = [(n.id, n.text, n.distribution) for n in replica_b.load_nodes("s1")]
        assert seen == [(n.id, n.text, n.distribution) for n in tree.nodes[:2]]
        assert replica_b.get_session("s1").clock_ms == 100
        resumed = replica_b.load_tree("s1")
        speak, listen = resumed.add_round("bo", "Good news, I found them!", EmotionEstimate.certain("happy"))
        replica_b.append_nodes("s1", [speak, listen], clock_ms=200)
        assert [n.id for n in replica_a.load_nodes("s1")] == [1, 2, 3, 4]
        assert replica_a.get_session("s1").clock_ms == 200 and replica_a.count_rounds("s1") == 2
        replica_b.delete_session("s1")
        with pytest.raises(SessionNotFoundError):
            replica_a.load_tree("s1")


def test_concurrent_writer_threads_share_one_store(backend):
    store = backend.open()
    errors = []

    def converse(index):
        try:
            store.create_session(_record(f"t{index}"))
            _converse(store, f"t{index}", 15, label=f"{index}:")
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=converse, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(8):
        tree = store.load_tree(f"t{i}")
        assert len(tree) == 30 and tree.node(29).text == f"{i}:14"
    store.close()


def test_writers_racing_on_one_session_never_leave_a_gap(backend):
    """Four stores (four connections, as four replicas) each append the next round to the same session as fast as
    they can, reading the stored ids first: every append either lands right after the last or is refused (the id
    is taken), and the session ends as one unbroken tree."""
    with backend.open() as store:
        store.create_session(_record())
    appended, refused, errors = [], [], []

    def race(writer):
        with backend.open() as store:
            while len(appended) < 24:
                try:
                    tree = store.load_tree("s1")
                    if len(appended) >= 24:
                        return
                    speak, listen = tree.add_round("ada", f"w{writer}", EmotionEstimate.certain("happy"))
                    store.append_nodes("s1", [speak, listen])
                    appended.append(speak.id)
                except ValueError:
                    refused.append(writer)  # another writer took the id between our read and our write
                except Exception as exc:
                    errors.append(exc)
                    return

    writers = [threading.Thread(target=race, args=(w,)) for w in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert errors == []
    with backend.open() as store:
        tree = store.load_tree("s1")  # from_nodes refuses a gap or a wrong link
    assert sorted(appended) == list(range(1, 2 * len(appended), 2)) and len(tree) == 2 * len(appended)


WRITER = textwrap.dedent(
    """
    import sys
    from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree
    from eai_avatar.runtime.store import SessionRecord, open_store

    location, schema, session_id, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = open_store(location, schema=schema)
    store.create_session(SessionRecord(session_id, ("ada", "bo"), 0, {}))
    tree = InteractiveTalkingTree(["ada", "bo"])
    for r in range(rounds):
        estimate = EmotionEstimate.certain("fear", 0.7)
        speak, listen = tree.add_round(["ada", "bo"][r % 3 == 0], f"round {r}", estimate)
        store.append_nodes(session_id, [speak, listen])
        sys.stdout.write(f"{r}\\n")
        sys.stdout.flush()
    """
)


def _start_writer(backend, session_id, rounds):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, backend.location, backend.schema, session_id, str(rounds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )


def test_sigkill_mid_conversation_loses_nothing_committed(backend):
    writer = _start_writer(backend, "killed", 1_000_000)
    acknowledged = -1
    for line in writer.stdout:  # every line is a round the writer saw committed
        acknowledged = int(line)
        if acknowledged == 40:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with backend.open() as store:
        tree = store.load_tree("killed")  # a consistent tree: from_nodes checked every link
    assert tree.rounds >= acknowledged + 1
    assert len(tree) == 2 * tree.rounds, "appends are atomic: never a speak node without its listen node"
    assert tree.node(2 * acknowledged + 1).text == f"round {acknowledged}"
    # and the conversation continues from the reloaded tree
    speak, _ = tree.add_round("ada", "I'm back", EmotionEstimate.certain("happy"))
    assert speak.depth == tree.rounds and speak.parent == speak.id - 1


def test_several_writer_processes_on_one_database(backend):
    backend.open().close()  # make the schema before the race
    writers = [_start_writer(backend, f"p{i}", 25) for i in range(4)]
    for w in writers:
        w.communicate(timeout=120)
        assert w.returncode == 0
    with backend.open() as store:
        assert sorted(r.session_id for r in store.list_sessions()) == ["p0", "p1", "p2", "p3"]
        assert all(len(store.load_tree(f"p{i}")) == 50 for i in range(4))


def test_a_lock_held_by_another_process_is_unavailable_then_retried(backend):
    nodes = build_three_rounds().nodes
    with backend.open(lock_timeout_s=0.1) as store:
        store.create_session(_record())
        holder = backend.hold_write_lock("s1", 1.0)
        with pytest.raises(StoreUnavailable, match="another process holds the store's write lock"):
            store.append_nodes("s1", nodes[:2], clock_ms=80)
        assert store.load_nodes("s1") == [] and store.get_session("s1").clock_ms == 0  # nothing half-written
        waits = []

        def wait(seconds):
            waits.append(seconds)
            time.sleep(seconds)

        # retried until the other process lets go: 0.1 s per attempt, then 0.1, 0.2, 0.4 s apart
        commit_round(store, "s1", nodes[:2], 80, retries=6, backoff_s=0.1, sleep=wait)
        holder.join()
        assert waits and [n.id for n in store.load_nodes("s1")] == [1, 2]
        assert store.get_session("s1").clock_ms == 80
