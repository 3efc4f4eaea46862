"""SQLite conversation store in WAL mode: one file, safe for several writers (threads and processes).

Each `append_nodes` is one IMMEDIATE transaction with synchronous=FULL, so a node is on disk before the
call returns and a SIGKILLed process loses nothing it had appended. Rows are append-only: a node stores
only its backward links (parent, left sibling); the forward links follow from eq. 7 when the tree is
rebuilt, so a crash can never leave a half-updated link. An append whose first id does not follow the
stored ones is refused, so a gap can never be written. A session's lease (base.py) is three columns of its row,
read and written inside the same IMMEDIATE transactions, so a fenced write and a takeover never interleave; its
clock is this machine's (a SQLite file is one machine's).

Conversations are private: the file (and SQLite's -wal and -shm files, which take its mode) is made 0600, and
a folder the store makes for it 0700. Driver faults become `StoreUnavailable` with a message that says what to
do (another process holds the lock; the disk is full), and the transaction is rolled back.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from eai_avatar.runtime.itt.tree import TalkNode
from eai_avatar.runtime.store.base import (
    ConversationStore,
    Lease,
    SessionNotFoundError,
    SessionRecord,
    StoreUnavailable,
    check_fence,
    decide_lease,
)
from eai_avatar.runtime.store.rows import (
    NODE_COLUMN_COUNT,
    NODE_COLUMNS,
    SESSION_COLUMNS,
    node_row,
    nodes_from_rows,
    record_from_row,
    session_row,
)

# 2: sessions.clock_ms (the presentation clock survives a restart). 3: nodes.interrupted and spoken_text (a turn
# cut short keeps the words it said). 4: sessions.lease_* (one replica drives a session at a time). Older files are
# upgraded in place.
SCHEMA_VERSION = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    characters TEXT NOT NULL,          -- JSON list of the two identity names
    created_unix_ms INTEGER NOT NULL,
    metadata TEXT NOT NULL,            -- JSON object
    clock_ms INTEGER NOT NULL DEFAULT 0,
    lease_holder TEXT NOT NULL DEFAULT '',            -- the replica driving the session ('' never held)
    lease_epoch INTEGER NOT NULL DEFAULT 0,           -- takes so far: (holder, epoch) fences every write
    lease_expires_unix_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS nodes (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    node_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    character TEXT NOT NULL,
    text TEXT NOT NULL,
    emotion TEXT NOT NULL,
    confidence REAL NOT NULL,
    distribution TEXT NOT NULL,        -- JSON list, one value per emotion in class order
    depth INTEGER NOT NULL,
    parent INTEGER NOT NULL,
    left_sibling INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_unix_ms INTEGER NOT NULL,
    interrupted INTEGER NOT NULL DEFAULT 0,
    spoken_text TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, node_id)
);
"""

#: Columns later schema versions added: (table, column, declaration with the default older rows take).
_ADDED_COLUMNS = (
    ("sessions", "clock_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("nodes", "interrupted", "INTEGER NOT NULL DEFAULT 0"),
    ("nodes", "spoken_text", "TEXT NOT NULL DEFAULT ''"),
    ("sessions", "lease_holder", "TEXT NOT NULL DEFAULT ''"),
    ("sessions", "lease_epoch", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "lease_expires_unix_ms", "INTEGER NOT NULL DEFAULT 0"),
)

_LEASE_COLUMNS = "lease_holder, lease_epoch, lease_expires_unix_ms"


def _now_unix_ms() -> int:
    return time.time_ns() // 1_000_000


def _private_file(path: Path) -> None:
    """Make the folders (0700) and the file (0600) before SQLite opens it; tighten a file that exists."""
    missing = [parent for parent in (path.parent, *path.parent.parents) if not parent.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(descriptor)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        os.chmod(path, 0o600)


def _fault(exc: sqlite3.Error, path: str) -> StoreUnavailable:
    """A driver error as the fault a person can act on."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        reason = "another process holds the store's write lock"
    elif "full" in text:
        reason = "the disk holding the store is full"
    elif "readonly" in text or "read-only" in text:
        reason = "the store is read-only"
    else:
        reason = f"the store failed ({exc})"
    return StoreUnavailable(f"conversation store {path}: {reason}; nothing was written, try again")


class SqliteStore(ConversationStore):
    """Args:
    path: database file (made 0600, with its missing folders 0700) or ":memory:".
    timeout_s: how long a writer waits for another's lock before the write fails as StoreUnavailable.
    """

    def __init__(self, path: str | Path, timeout_s: float = 10.0):
        self.path = self.location = str(path)
        if self.path != ":memory:":
            _private_file(Path(self.path))
        # One connection per store, shared by threads under a lock; other processes open their own.
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            raise _fault(exc, self.path) from None
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a usable SQLite conversation store: {exc}") from exc
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._write():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) < SCHEMA_VERSION:  # upgrade: columns added since, at the values they stand for then
                for table, column, declaration in _ADDED_COLUMNS:
                    have = {info[1] for info in self._db.execute(f"PRAGMA table_info({table})")}
                    if column not in have:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise ValueError(f"{self.path}: store schema version {row[0]}, this runtime reads {SCHEMA_VERSION}")

    @contextmanager
    def _write(self):
        """One IMMEDIATE transaction: the write lock up front, commit on success, roll back on any error (a
        driver fault is raised as StoreUnavailable)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _fault(exc, self.path) from None
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise _fault(exc, self.path) from None
                raise

    def _stored_lease(self, session_id: str) -> Lease:
        """The session's lease, read inside a write transaction (so under the write lock); SessionNotFoundError."""
        row = self._db.execute(f"SELECT {_LEASE_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionNotFoundError(session_id)
        return Lease(*row)

    def _fence(self, session_id: str, lease: Lease | None) -> None:
        """Inside a write transaction: SessionNotFoundError for an unknown id, LeaseLost for a hold that is gone."""
        stored = self._stored_lease(session_id)
        check_fence(session_id, lease, stored.holder, stored.epoch)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise _fault(exc, self.path) from None

    def update_metadata(self, session_id: str, metadata: dict) -> None:
        with self._write():
            changed = self._db.execute("UPDATE sessions SET metadata = ? WHERE session_id = ?",
                                       (json.dumps(metadata), session_id)).rowcount  # fmt: skip
        if not changed:
            raise SessionNotFoundError(session_id)

    def create_session(self, record: SessionRecord) -> None:
        if not record.session_id:
            raise ValueError("a session id must be a non-empty string")
        try:
            with self._write():
                self._db.execute(
                    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)", session_row(record)
                )
        except sqlite3.IntegrityError:
            raise ValueError(f"a session with id {record.session_id!r} already exists") from None

    def get_session(self, session_id: str) -> SessionRecord:
        rows = self._read(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(session_id)
        return record_from_row(rows[0])

    def list_sessions(self) -> list[SessionRecord]:
        rows = self._read(f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created_unix_ms, session_id")
        return [record_from_row(row) for row in rows]

    def append_nodes(self, session_id: str, nodes: Sequence[TalkNode], clock_ms: int | None = None,
                     lease: Lease | None = None) -> None:  # fmt: skip
        rows = [(session_id, *node_row(n)) for n in nodes]
        try:
            with self._write():
                self._fence(session_id, lease)
                last = self._db.execute("SELECT MAX(node_id) FROM nodes WHERE session_id = ?", (session_id,))
                last = last.fetchone()[0] or 0
                if nodes and min(n.id for n in nodes) > last + 1:
                    raise ValueError(f"session {session_id!r}: node {min(n.id for n in nodes)} would leave a gap "
                                     f"after the stored {last}")  # fmt: skip
                placeholders = ", ".join("?" * (1 + NODE_COLUMN_COUNT))
                self._db.executemany(f"INSERT INTO nodes (session_id, {NODE_COLUMNS}) VALUES ({placeholders})", rows)
                if clock_ms is not None:
                    self._db.execute("UPDATE sessions SET clock_ms = ? WHERE session_id = ?", (clock_ms, session_id))
        except sqlite3.IntegrityError:
            raise ValueError(f"session {session_id!r}: node ids {[n.id for n in nodes]} are already stored") from None

    def mark_interrupted(self, session_id: str, node_id: int, spoken_text: str, clock_ms: int | None = None,
                         lease: Lease | None = None) -> None:  # fmt: skip
        with self._write():
            if lease is not None:
                self._fence(session_id, lease)
            changed = self._db.execute(
                "UPDATE nodes SET interrupted = 1, spoken_text = ? WHERE session_id = ? AND node_id = ? AND "
                "state = 'speak'", (spoken_text, session_id, node_id)).rowcount  # fmt: skip
            if clock_ms is not None:
                self._db.execute("UPDATE sessions SET clock_ms = ? WHERE session_id = ?", (clock_ms, session_id))
        if not changed:
            raise ValueError(f"session {session_id!r} has no stored speak node {node_id}")

    def set_clock(self, session_id: str, clock_ms: int, lease: Lease | None = None) -> None:
        with self._write():
            if lease is not None:
                self._fence(session_id, lease)
            changed = self._db.execute("UPDATE sessions SET clock_ms = ? WHERE session_id = ?",
                                       (clock_ms, session_id)).rowcount  # fmt: skip
        if not changed:
            raise SessionNotFoundError(session_id)

    def acquire_lease(self, session_id: str, holder: str, ttl_s: float, held_epoch: int | None = None) -> Lease:
        with self._write():
            lease = decide_lease(session_id, self._stored_lease(session_id), holder, held_epoch, _now_unix_ms(), ttl_s)
            self._store_lease(session_id, lease)
        return lease

    def renew_lease(self, session_id: str, lease: Lease, ttl_s: float) -> Lease:
        with self._write():
            self._fence(session_id, lease)
            renewed = Lease(lease.holder, lease.epoch, _now_unix_ms() + max(1, round(ttl_s * 1000)))
            self._store_lease(session_id, renewed)
        return renewed

    def release_lease(self, session_id: str, lease: Lease) -> None:
        with self._write():
            self._db.execute(
                "UPDATE sessions SET lease_expires_unix_ms = min(lease_expires_unix_ms, ?) "
                "WHERE session_id = ? AND lease_holder = ? AND lease_epoch = ?",
                (_now_unix_ms(), session_id, lease.holder, lease.epoch),
            )

    def read_lease(self, session_id: str) -> Lease:
        rows = self._read(f"SELECT {_LEASE_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,))
        if not rows:
            raise SessionNotFoundError(session_id)
        return Lease(*rows[0])

    def _store_lease(self, session_id: str, lease: Lease) -> None:
        self._db.execute(
            "UPDATE sessions SET lease_holder = ?, lease_epoch = ?, lease_expires_unix_ms = ? WHERE session_id = ?",
            (lease.holder, lease.epoch, lease.expires_unix_ms, session_id),
        )

    def load_nodes(self, session_id: str) -> list[TalkNode]:
        self.get_session(session_id)  # SessionNotFoundError for an unknown id
        rows = self._read(f"SELECT {NODE_COLUMNS} FROM nodes WHERE session_id = ? ORDER BY node_id", (session_id,))
        return nodes_from_rows(session_id, rows)

    def count_rounds(self, session_id: str) -> int:
        rows = self._read("SELECT COUNT(*) FROM nodes WHERE session_id = ? AND state = 'speak'", (session_id,))
        if not self._read("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)):
            raise SessionNotFoundError(session_id)
        return rows[0][0]

    def delete_session(self, session_id: str) -> None:
        with self._write():
            if self._db.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,)).rowcount == 0:
                raise SessionNotFoundError(session_id)

    def close(self) -> None:
        with self._lock:
            self._db.close()
