"""What only the SQLite store has: a file (private, upgraded in place, refused when it is not a store) and a disk
that fills. What every store guarantees is tested on SQLite and PostgreSQL alike in test_stores.py."""

import sqlite3

import pytest

from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree
from eai_avatar.runtime.store import (
    SessionRecord,
    SqliteStore,
    StoreUnavailable,
    commit_round,
)
from tests.runtime.itt.conftest import build_three_rounds


def _record(session_id="s1", characters=("ada", "bo")):
    return SessionRecord(session_id, characters, 1_700_000_000_000, {"mode": "agent-agent", "seed": 3})


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a usable SQLite conversation store"):
        SqliteStore(path)


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
