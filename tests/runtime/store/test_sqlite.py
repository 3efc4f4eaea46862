"""The SQLite store: exact reloads, atomic appends, several writers, and nothing lost to SIGKILL."""

import os
import signal
import sqlite3
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
    SqliteStore,
    StoreCorrupt,
    StoreUnavailable,
    commit_round,
)
from tests.runtime.itt.conftest import build_three_rounds


def _record(session_id="s1", characters=("ada", "bo")):
    return SessionRecord(session_id, characters, 1_700_000_000_000, {"mode": "agent-agent", "seed": 3})


def test_reload_is_exact_across_store_instances(tmp_path):
    path = tmp_path / "conv.db"
    tree = build_three_rounds()
    with SqliteStore(path) as store:
        store.create_session(_record())
        store.append_nodes("s1", tree.nodes[:2])  # one round at a time, as the runtime does
        store.append_nodes("s1", tree.nodes[2:])
    with SqliteStore(path) as store:
        assert store.get_session("s1") == _record()
        reloaded = store.load_tree("s1")
    assert reloaded.nodes == tree.nodes  # every field, forward links included
    assert reloaded.characters == ("ada", "bo")


def test_unknown_session_and_duplicates(tmp_path):
    with SqliteStore(tmp_path / "conv.db") as store:
        for call in (store.get_session, store.load_nodes, store.load_tree, store.delete_session):
            with pytest.raises(SessionNotFoundError, match="no session 'nope'"):
                call("nope")
        tree = build_three_rounds()
        with pytest.raises(SessionNotFoundError):
            store.append_nodes("nope", tree.nodes[:2])
        store.create_session(_record())
        with pytest.raises(ValueError, match="already exists"):
            store.create_session(_record())
        store.append_nodes("s1", tree.nodes[:2])
        # an append is atomic: v3 is new but v2 is stored, so neither lands
        with pytest.raises(ValueError, match="already stored"):
            store.append_nodes("s1", tree.nodes[1:3])
        assert [n.id for n in store.load_nodes("s1")] == [1, 2]
        store.delete_session("s1")
        assert store.list_sessions() == []


def test_a_corrupt_stored_tree_is_refused(tmp_path):
    path = tmp_path / "conv.db"
    with SqliteStore(path) as store:
        store.create_session(_record())
        store.append_nodes("s1", build_three_rounds().nodes)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE nodes SET depth = 7 WHERE node_id = 3")
    with SqliteStore(path) as store, pytest.raises(StoreCorrupt, match="node 3: stored depth 7"):
        store.load_tree("s1")


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a usable SQLite conversation store"):
        SqliteStore(path)


def test_concurrent_writer_threads_share_one_store(tmp_path):
    store = SqliteStore(tmp_path / "conv.db")
    errors = []

    def converse(index):
        try:
            session_id = f"t{index}"
            store.create_session(_record(session_id))
            tree = InteractiveTalkingTree(["ada", "bo"])
            for r in range(15):
                speak, listen = tree.add_round("ada" if r % 2 else "bo", f"{index}:{r}", EmotionEstimate.certain("sad"))
                store.append_nodes(session_id, [speak, listen])
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


WRITER = textwrap.dedent(
    """
    import sys
    from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree
    from eai_avatar.runtime.store import SessionRecord, SqliteStore

    path, session_id, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = SqliteStore(path)
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


def _start_writer(path, session_id, rounds):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), session_id, str(rounds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )


def test_sigkill_mid_conversation_loses_nothing_committed(tmp_path):
    path = tmp_path / "conv.db"
    writer = _start_writer(path, "killed", 1_000_000)
    acknowledged = -1
    for line in writer.stdout:  # every line is a round the writer saw committed
        acknowledged = int(line)
        if acknowledged == 40:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with SqliteStore(path) as store:
        tree = store.load_tree("killed")  # a consistent tree: from_nodes checked every link
    assert tree.rounds >= acknowledged + 1
    assert len(tree) == 2 * tree.rounds, "appends are atomic: never a speak node without its listen node"
    assert tree.node(2 * acknowledged + 1).text == f"round {acknowledged}"
    # and the conversation continues from the reloaded tree
    speak, _ = tree.add_round("ada", "I'm back", EmotionEstimate.certain("happy"))
    assert speak.depth == tree.rounds and speak.parent == speak.id - 1


def test_several_writer_processes_on_one_file(tmp_path):
    path = tmp_path / "conv.db"
    SqliteStore(path).close()  # make the schema before the race
    writers = [_start_writer(path, f"p{i}", 25) for i in range(4)]
    for w in writers:
        w.communicate(timeout=120)
        assert w.returncode == 0
    with SqliteStore(path) as store:
        assert sorted(r.session_id for r in store.list_sessions()) == ["p0", "p1", "p2", "p3"]
        assert all(len(store.load_tree(f"p{i}")) == 50 for i in range(4))


def test_files_are_private_and_missing_folders_are_made_0700(tmp_path):
    path = tmp_path / "made" / "here" / "conv.db"
    with SqliteStore(path) as store:
        store.create_session(_record())
        store.append_nodes("s1", build_three_rounds().nodes[:2])
        modes = {p.name: p.stat().st_mode & 0o777 for p in path.parent.iterdir()}
    assert modes["conv.db"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("conv.db"))  # -wal, -shm too
    assert (tmp_path / "made").stat().st_mode & 0o777 == 0o700
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_an_append_that_would_leave_a_gap_is_refused(tmp_path):
    nodes = build_three_rounds().nodes
    with SqliteStore(tmp_path / "conv.db") as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:2])
        with pytest.raises(ValueError, match="gap"):
            store.append_nodes("s1", nodes[4:6])
        assert [n.id for n in store.load_nodes("s1")] == [1, 2]


def test_the_clock_commits_with_the_round_and_survives_reopening(tmp_path):
    nodes = build_three_rounds().nodes
    with SqliteStore(tmp_path / "conv.db") as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:2], clock_ms=2480)
        assert store.get_session("s1").clock_ms == 2480
        store.set_clock("s1", 1960)  # the turn was interrupted: the clock is where it really ended
    with SqliteStore(tmp_path / "conv.db") as store:
        assert store.get_session("s1").clock_ms == 1960


def test_an_interrupted_turn_keeps_the_words_it_said(tmp_path):
    nodes = build_three_rounds().nodes
    with SqliteStore(tmp_path / "conv.db") as store:
        store.create_session(_record())
        store.append_nodes("s1", nodes[:4])
        store.mark_interrupted("s1", 3, "Good news, I", clock_ms=900)
        with pytest.raises(ValueError, match="no stored speak node 4"):
            store.mark_interrupted("s1", 4, "x")
    with SqliteStore(tmp_path / "conv.db") as store:
        tree = store.load_tree("s1")
        assert (tree.node(3).interrupted, tree.node(3).spoken_text) == (True, "Good news, I")
        assert not tree.node(1).interrupted and store.get_session("s1").clock_ms == 900


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, characters TEXT NOT NULL, "
            "created_unix_ms INTEGER NOT NULL, metadata TEXT NOT NULL);"
            "INSERT INTO sessions VALUES ('old', '[\"ada\", \"bo\"]', 5, '{}');"
            "CREATE TABLE nodes (session_id TEXT NOT NULL, node_id INTEGER NOT NULL, state TEXT NOT NULL, "
            "character TEXT NOT NULL, text TEXT NOT NULL, emotion TEXT NOT NULL, confidence REAL NOT NULL, "
            "distribution TEXT NOT NULL, depth INTEGER NOT NULL, parent INTEGER NOT NULL, left_sibling INTEGER "
            "NOT NULL, source TEXT NOT NULL, created_unix_ms INTEGER NOT NULL, PRIMARY KEY (session_id, node_id));"
        )
    with SqliteStore(path) as store:
        assert store.get_session("old").clock_ms == 0
        store.append_nodes("old", build_three_rounds().nodes[:2], clock_ms=40)
        assert len(store.load_tree("old")) == 2 and store.get_session("old").clock_ms == 40


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    sys.stdout.write("locked\\n")
    sys.stdout.flush()
    time.sleep(float(sys.argv[2]))
    db.execute("ROLLBACK")
    """
)


def test_a_lock_held_by_another_process_is_unavailable_then_retried(tmp_path):
    path = tmp_path / "conv.db"
    nodes = build_three_rounds().nodes
    with SqliteStore(path, timeout_s=0.1) as store:
        store.create_session(_record())
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path), "1.0"], stdout=subprocess.PIPE, text=True)
        assert locker.stdout.readline().strip() == "locked"
        with pytest.raises(StoreUnavailable, match="another process holds the store's write lock"):
            store.append_nodes("s1", nodes[:2], clock_ms=80)
        assert store.load_nodes("s1") == [] and store.get_session("s1").clock_ms == 0  # nothing half-written
        waits = []

        def wait(seconds):
            waits.append(seconds)
            time.sleep(seconds)

        # retried until the other process lets go: 0.1 s per attempt, then 0.1, 0.2, 0.4 s apart
        commit_round(store, "s1", nodes[:2], 80, retries=6, backoff_s=0.1, sleep=wait)
        locker.wait(timeout=10)
        assert waits and [n.id for n in store.load_nodes("s1")] == [1, 2]
        assert store.get_session("s1").clock_ms == 80


def test_a_full_disk_is_unavailable_and_loses_nothing(tmp_path):
    path = tmp_path / "conv.db"
    tree = InteractiveTalkingTree(["ada", "bo"])
    with SqliteStore(path) as store:
        store.create_session(_record())
        db = store._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 2}")  # what a full disk looks like to SQLite
        stored, failed = 0, None
        for r in range(200):
            speak, listen = tree.add_round("ada" if r % 2 else "bo", "x" * 900, EmotionEstimate.certain("sad"))
            try:
                commit_round(store, "s1", [speak, listen], 40 * r, retries=1, backoff_s=0, sleep=lambda s: None)
                stored += 1
            except StoreUnavailable as exc:
                failed = exc
                break
        assert failed is not None and "disk holding the store is full" in str(failed)
        db.execute("PRAGMA max_page_count = 1073741823")
        assert len(store.load_tree("s1")) == 2 * stored  # whole rounds only, no gap
