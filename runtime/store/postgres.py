"""PostgreSQL conversation store (psycopg 3): one database that several runtimes share, so a session written by one
replica can be resumed by another. Needs `pip install 'eai-avatar[postgres]'`.

The guarantees are SQLite's (see base.py): a round's nodes and the clock commit in one transaction or not at all,
ids run 1..N without gaps, a call that returns has its change durable, and a fault is a `StoreUnavailable` that says
what to do. How they hold with many writers in many processes:

- Every write transaction first locks its session's row (`SELECT ... FOR UPDATE`), so writes to one session are
  serial across every process and connection, while writes to different sessions never wait for each other.
  Under READ COMMITTED each later statement sees what the writer before committed, so the gap check (the first
  new id must follow the stored ones) reads the true last id, and the primary key refuses an id stored twice. No
  SERIALIZABLE: the row lock already orders the only conflicting writes, without serialization failures to retry.
- A lock another writer holds longer than `timeout_s` (`lock_timeout`) fails the write as StoreUnavailable
  ("another process holds the store's write lock"), like SQLite's busy timeout; `commit_round` retries it.
- A commit returns after the server flushed its WAL: a connection whose server runs `synchronous_commit = off`
  turns it back on for itself.
- Connections come from a pool that checks each one before handing it out, so a server restart costs the calls
  in flight (StoreUnavailable, retried), not the store.
- A session's lease (base.py) is three columns of its row, read under the same row lock as every write, so a fenced
  write and a takeover are ordered like any two writes to the session. Its clock is the database server's
  (`clock_timestamp()`), the one clock every replica shares, so replicas whose clocks disagree still agree on
  when a lease runs out. A replica that stops inside a transaction (paused, cut off) would keep its session's row
  locked, and so keep any other replica from taking the session over, until its connection died: the server ends
  such a transaction after `idle_in_transaction_session_timeout` (3 x timeout_s, at least 5 s; every transaction
  here runs its statements back to back, so only a stopped client ever idles in one).

Tables live in their own schema (`schema`, default "eai_avatar"), made with them on first use; rows are laid out
as SQLite lays them out (rows.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

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
from eai_avatar.runtime.store.locations import DEFAULT_SCHEMA, check_schema_name, is_postgres_url, redact_url
from eai_avatar.runtime.store.rows import (
    NODE_COLUMN_COUNT,
    NODE_COLUMNS,
    SESSION_COLUMNS,
    node_row,
    nodes_from_rows,
    record_from_row,
    session_row,
)

#: The PostgreSQL layout's own version (it started with everything SQLite's version 3 has). 2: sessions.lease_* (one
#: replica drives a session at a time; SQLite's version 4). A version 1 layout is upgraded in place.
SCHEMA_VERSION = 2

_TABLES = (
    "CREATE TABLE IF NOT EXISTS {schema}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS {schema}.sessions (
        session_id TEXT PRIMARY KEY,
        characters TEXT NOT NULL,          -- JSON list of the two identity names
        created_unix_ms BIGINT NOT NULL,
        metadata TEXT NOT NULL,            -- JSON object
        clock_ms BIGINT NOT NULL DEFAULT 0,
        lease_holder TEXT NOT NULL DEFAULT '',            -- the replica driving the session ('' never held)
        lease_epoch BIGINT NOT NULL DEFAULT 0,            -- takes so far: (holder, epoch) fences every write
        lease_expires_unix_ms BIGINT NOT NULL DEFAULT 0   -- on the database server's clock
    )""",
    """CREATE TABLE IF NOT EXISTS {schema}.nodes (
        session_id TEXT NOT NULL REFERENCES {schema}.sessions (session_id) ON DELETE CASCADE,
        node_id INTEGER NOT NULL,
        state TEXT NOT NULL,
        character TEXT NOT NULL,
        text TEXT NOT NULL,
        emotion TEXT NOT NULL,
        confidence DOUBLE PRECISION NOT NULL,
        distribution TEXT NOT NULL,        -- JSON list, one value per emotion in class order
        depth INTEGER NOT NULL,
        parent INTEGER NOT NULL,
        left_sibling INTEGER NOT NULL,
        source TEXT NOT NULL,
        created_unix_ms BIGINT NOT NULL,
        interrupted BOOLEAN NOT NULL DEFAULT FALSE,
        spoken_text TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (session_id, node_id)
    )""",
)

#: What a version 1 layout gains (version 2): the lease, never held, on every stored session.
_UPGRADES = {
    1: (
        "ALTER TABLE {schema}.sessions ADD COLUMN IF NOT EXISTS lease_holder TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE {schema}.sessions ADD COLUMN IF NOT EXISTS lease_epoch BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE {schema}.sessions ADD COLUMN IF NOT EXISTS lease_expires_unix_ms BIGINT NOT NULL DEFAULT 0",
    ),
}

_LEASE_COLUMNS = "lease_holder, lease_epoch, lease_expires_unix_ms"
#: Now, in ms since the epoch, on the database server's clock (clock_timestamp: the time of the statement itself,
#: not of the transaction's start, which a lock wait may have delayed).
_NOW_MS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"


def _storable(session_id: str) -> bool:
    """PostgreSQL text cannot hold NUL, so an id with one is no stored session (SQLite would say not found too)."""
    return "\x00" not in session_id


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class PostgresStore(ConversationStore):
    """Args:
    url: postgresql://[user[:password]@]host[:port]/database[?param=value...] (libpq's URL; a password is best
        left to $PGPASSWORD or ~/.pgpass, which libpq reads).
    schema: the schema holding the tables (made on first use); stores with different schemas share nothing.
    timeout_s: how long a write waits for another's lock, or a call for a free connection, before it fails as
        StoreUnavailable.
    max_connections: the pool's size: calls at once (each session's writes are serial anyway).
    connect_timeout_s: how long opening a connection may take.

    Raises ValueError for a URL libpq cannot read, StoreUnavailable when the server cannot be reached now; either
    names the URL (without its password).
    """

    def __init__(self, url: str, schema: str = DEFAULT_SCHEMA, timeout_s: float = 10.0, max_connections: int = 4,
                 connect_timeout_s: float = 5.0):  # fmt: skip
        self.schema = check_schema_name(schema)
        self.url = redact_url(url)
        self.location = f"{self.url} (schema {schema})"
        self.timeout_s = timeout_s
        if not is_postgres_url(url):
            raise ValueError(f"conversation store {self.url}: not a PostgreSQL URL (postgresql://host[:port]/database)")
        try:
            given = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"conversation store {self.url}: not a usable PostgreSQL URL ({_one_line(exc)})") from None
        # Defaults the URL may override: a name in pg_stat_activity, and a connect that does not hang.
        connect_options = {"fallback_application_name": "eai-avatar", "autocommit": True}
        if "connect_timeout" not in given:
            connect_options["connect_timeout"] = max(2, round(connect_timeout_s))
        self._create_schema(url, connect_options)
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, kwargs=connect_options,
                                    configure=self._configure, check=ConnectionPool.check_connection,
                                    name=f"eai-avatar store {self.location}", open=False)  # fmt: skip
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s + timeout_s)
        except PoolTimeout:
            self._pool.close()
            raise StoreUnavailable(f"conversation store {self.location}: no connection to the server within "
                                   f"{connect_timeout_s + timeout_s:g} s") from None  # fmt: skip

    # ------------------------------------------------------------------ connections and transactions

    def _statement(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    def _create_schema(self, url: str, connect_options: dict) -> None:
        """Connect once on its own (so an unreachable server is reported with libpq's reason), make the schema and
        tables if missing, and refuse a layout newer than this runtime reads."""
        try:
            connection = psycopg.connect(url, **connect_options)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"conversation store {self.location}: cannot connect ({_one_line(exc)}); check the "
                                   "URL and that the server is running") from None  # fmt: skip
        tables = [f'"{self.schema}".{table}' for table in ("meta", "sessions", "nodes")]
        version = "SELECT value FROM {schema}.meta WHERE key = 'schema_version'"
        try:
            with connection:
                self._configure(connection)
                with connection.transaction():
                    # Two runtimes starting at once would race on CREATE; the lock makes the second wait and find.
                    connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"eai-avatar {self.schema}",))
                    missing = connection.execute(
                        "SELECT count(*) FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL", (tables,)
                    ).fetchone()[0]
                    if missing:  # only then: a role that may only read and write can use a layout made before
                        connection.execute(self._statement("CREATE SCHEMA IF NOT EXISTS {schema}"))
                        for statement in _TABLES:
                            connection.execute(self._statement(statement))
                        first = "INSERT INTO {schema}.meta VALUES ('schema_version', %s) ON CONFLICT DO NOTHING"
                        connection.execute(self._statement(first), (str(SCHEMA_VERSION),))
                    stored = connection.execute(self._statement(version)).fetchone()
                    if stored is not None and int(stored[0]) in _UPGRADES:
                        for statement in _UPGRADES[int(stored[0])]:
                            connection.execute(self._statement(statement))
                        upgraded = "UPDATE {schema}.meta SET value = %s WHERE key = 'schema_version'"
                        connection.execute(self._statement(upgraded), (str(SCHEMA_VERSION),))
                        stored = (str(SCHEMA_VERSION),)
        except psycopg.Error as exc:
            raise _fault(exc, self.location) from None
        if stored is None or int(stored[0]) != SCHEMA_VERSION:
            found = "no schema version" if stored is None else f"schema version {stored[0]}"
            raise ValueError(f"conversation store {self.location}: {found}, this runtime reads {SCHEMA_VERSION}")

    def _configure(self, connection: psycopg.Connection) -> None:
        """Each new connection: a lock wait bounded by timeout_s, a transaction left idle ended (so a stopped
        replica cannot hold a session's row lock), and commits that wait for the WAL flush."""
        connection.execute("SELECT set_config('lock_timeout', %s, false)", (f"{round(self.timeout_s * 1000)}ms",))
        idle_ms = round(max(5.0, 3 * self.timeout_s) * 1000)
        connection.execute("SELECT set_config('idle_in_transaction_session_timeout', %s, false)", (f"{idle_ms}ms",))
        if connection.execute("SHOW synchronous_commit").fetchone()[0] == "off":
            connection.execute("SET synchronous_commit = on")

    @contextmanager
    def _transaction(self, session_id: str) -> Iterator[psycopg.Cursor]:
        """One transaction on a pooled connection: commit on success, roll back on any error. A driver fault is
        raised as StoreUnavailable, a value the server refuses as ValueError; a duplicate key is left to the caller
        to name."""
        try:
            with self._pool.connection(timeout=self.timeout_s) as connection, connection.transaction():
                yield connection.cursor()
        except errors.UniqueViolation:
            raise
        except psycopg.DataError as exc:
            raise ValueError(f"session {session_id!r}: the store refused a value ({_one_line(exc)})") from None
        except (psycopg.Error, PoolTimeout) as exc:
            raise _fault(exc, self.location) from None

    def _lock_session(self, cursor: psycopg.Cursor, session_id: str) -> tuple[Lease, int] | None:
        """Lock the session's row for the rest of the transaction (writers to one session queue here, across
        processes; every write takes this lock first, so two writers never wait on each other in a cycle), and read
        its lease and the server's clock under the lock. None when there is no such session."""
        if not _storable(session_id):
            return None
        statement = f"SELECT {_LEASE_COLUMNS}, {_NOW_MS} FROM {{schema}}.sessions WHERE session_id = %s FOR UPDATE"
        row = cursor.execute(self._statement(statement), (session_id,)).fetchone()
        return None if row is None else (Lease(row[0], row[1], row[2]), row[3])

    def _fence(self, cursor: psycopg.Cursor, session_id: str, lease: Lease | None) -> int:
        """Lock the session's row; SessionNotFoundError for an unknown id, LeaseLost for a hold that is gone.
        Returns the server's clock (ms since the epoch)."""
        locked = self._lock_session(cursor, session_id)
        if locked is None:
            raise SessionNotFoundError(session_id)
        stored, now_ms = locked
        check_fence(session_id, lease, stored.holder, stored.epoch)
        return now_ms

    def _store_lease(self, cursor: psycopg.Cursor, session_id: str, lease: Lease) -> None:
        statement = ("UPDATE {schema}.sessions SET lease_holder = %s, lease_epoch = %s, lease_expires_unix_ms = %s "
                     "WHERE session_id = %s")  # fmt: skip
        cursor.execute(self._statement(statement), (lease.holder, lease.epoch, lease.expires_unix_ms, session_id))

    def _read(self, text: str, params: tuple = ()) -> list[tuple]:
        try:
            with self._pool.connection(timeout=self.timeout_s) as connection:
                return connection.execute(self._statement(text), params).fetchall()
        except (psycopg.Error, PoolTimeout) as exc:
            raise _fault(exc, self.location) from None

    # ------------------------------------------------------------------ the interface

    def create_session(self, record: SessionRecord) -> None:
        if not record.session_id:
            raise ValueError("a session id must be a non-empty string")
        statement = f"INSERT INTO {{schema}}.sessions ({SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
        try:  # the primary key settles two creators of one id
            with self._transaction(record.session_id) as cursor:
                cursor.execute(self._statement(statement), session_row(record))
        except errors.UniqueViolation:
            raise ValueError(f"a session with id {record.session_id!r} already exists") from None

    def get_session(self, session_id: str) -> SessionRecord:
        if not _storable(session_id):
            raise SessionNotFoundError(session_id)
        rows = self._read(f"SELECT {SESSION_COLUMNS} FROM {{schema}}.sessions WHERE session_id = %s", (session_id,))
        if not rows:
            raise SessionNotFoundError(session_id)
        return record_from_row(rows[0])

    def update_metadata(self, session_id: str, metadata: dict) -> None:
        with self._transaction(session_id) as cursor:
            self._fence(cursor, session_id, None)
            statement = "UPDATE {schema}.sessions SET metadata = %s WHERE session_id = %s"
            cursor.execute(self._statement(statement), (json.dumps(metadata), session_id))

    def list_sessions(self) -> list[SessionRecord]:
        # COLLATE "C": ties in bytes order, as SQLite orders them, whatever the database's locale.
        order = 'created_unix_ms, session_id COLLATE "C"'
        rows = self._read(f"SELECT {SESSION_COLUMNS} FROM {{schema}}.sessions ORDER BY {order}")
        return [record_from_row(row) for row in rows]

    def append_nodes(self, session_id: str, nodes: Sequence[TalkNode], clock_ms: int | None = None,
                     lease: Lease | None = None) -> None:  # fmt: skip
        # One INSERT of every row (not executemany, whose pipeline logs a warning when a duplicate id aborts it,
        # which a retried commit_round expects).
        row = "(" + ", ".join(["%s"] * (1 + NODE_COLUMN_COUNT)) + ")"
        insert = f"INSERT INTO {{schema}}.nodes (session_id, {NODE_COLUMNS}) VALUES {', '.join([row] * len(nodes))}"
        values = [value for n in nodes for value in (session_id, *node_row(n))]
        try:
            with self._transaction(session_id) as cursor:
                self._fence(cursor, session_id, lease)
                # Read after the lock: under READ COMMITTED this sees every append committed before ours.
                last_statement = "SELECT COALESCE(MAX(node_id), 0) FROM {schema}.nodes WHERE session_id = %s"
                last = cursor.execute(self._statement(last_statement), (session_id,)).fetchone()[0]
                if nodes and min(n.id for n in nodes) > last + 1:
                    raise ValueError(f"session {session_id!r}: node {min(n.id for n in nodes)} would leave a gap "
                                     f"after the stored {last}")  # fmt: skip
                if nodes:
                    cursor.execute(self._statement(insert), values)
                if clock_ms is not None:
                    self._set_clock(cursor, session_id, clock_ms)
        except errors.UniqueViolation:
            raise ValueError(f"session {session_id!r}: node ids {[n.id for n in nodes]} are already stored") from None

    def mark_interrupted(self, session_id: str, node_id: int, spoken_text: str, clock_ms: int | None = None,
                         lease: Lease | None = None) -> None:  # fmt: skip
        # As in SQLite: the clock is set even when the node is not there (the ValueError says so after the commit).
        changed = 0
        with self._transaction(session_id) as cursor:
            if lease is not None:
                self._fence(cursor, session_id, lease)  # the row is locked from here on
            if lease is not None or self._lock_session(cursor, session_id):
                statement = ("UPDATE {schema}.nodes SET interrupted = TRUE, spoken_text = %s "
                             "WHERE session_id = %s AND node_id = %s AND state = 'speak'")  # fmt: skip
                changed = cursor.execute(self._statement(statement), (spoken_text, session_id, node_id)).rowcount
                if clock_ms is not None:
                    self._set_clock(cursor, session_id, clock_ms)
        if not changed:
            raise ValueError(f"session {session_id!r} has no stored speak node {node_id}")

    def set_clock(self, session_id: str, clock_ms: int, lease: Lease | None = None) -> None:
        with self._transaction(session_id) as cursor:
            self._fence(cursor, session_id, lease)
            self._set_clock(cursor, session_id, clock_ms)

    def _set_clock(self, cursor: psycopg.Cursor, session_id: str, clock_ms: int) -> None:
        statement = "UPDATE {schema}.sessions SET clock_ms = %s WHERE session_id = %s"
        cursor.execute(self._statement(statement), (clock_ms, session_id))

    def acquire_lease(self, session_id: str, holder: str, ttl_s: float, held_epoch: int | None = None) -> Lease:
        with self._transaction(session_id) as cursor:
            locked = self._lock_session(cursor, session_id)
            if locked is None:
                raise SessionNotFoundError(session_id)
            stored, now_ms = locked
            lease = decide_lease(session_id, stored, holder, held_epoch, now_ms, ttl_s)
            self._store_lease(cursor, session_id, lease)
        return lease

    def renew_lease(self, session_id: str, lease: Lease, ttl_s: float) -> Lease:
        with self._transaction(session_id) as cursor:
            now_ms = self._fence(cursor, session_id, lease)
            renewed = Lease(lease.holder, lease.epoch, now_ms + max(1, round(ttl_s * 1000)))
            self._store_lease(cursor, session_id, renewed)
        return renewed

    def release_lease(self, session_id: str, lease: Lease) -> None:
        if not _storable(session_id):
            return
        statement = (f"UPDATE {{schema}}.sessions SET lease_expires_unix_ms = LEAST(lease_expires_unix_ms, {_NOW_MS}) "
                     "WHERE session_id = %s AND lease_holder = %s AND lease_epoch = %s")  # fmt: skip
        with self._transaction(session_id) as cursor:
            cursor.execute(self._statement(statement), (session_id, lease.holder, lease.epoch))

    def read_lease(self, session_id: str) -> Lease:
        if not _storable(session_id):
            raise SessionNotFoundError(session_id)
        rows = self._read(f"SELECT {_LEASE_COLUMNS} FROM {{schema}}.sessions WHERE session_id = %s", (session_id,))
        if not rows:
            raise SessionNotFoundError(session_id)
        return Lease(*rows[0])

    def load_nodes(self, session_id: str) -> list[TalkNode]:
        self.get_session(session_id)  # SessionNotFoundError for an unknown id
        statement = f"SELECT {NODE_COLUMNS} FROM {{schema}}.nodes WHERE session_id = %s ORDER BY node_id"
        return nodes_from_rows(session_id, self._read(statement, (session_id,)))

    def count_rounds(self, session_id: str) -> int:
        if not _storable(session_id):
            raise SessionNotFoundError(session_id)
        statement = "SELECT COUNT(*) FROM {schema}.nodes WHERE session_id = %s AND state = 'speak'"
        rows = self._read(statement, (session_id,))
        if not self._read("SELECT 1 FROM {schema}.sessions WHERE session_id = %s", (session_id,)):
            raise SessionNotFoundError(session_id)
        return rows[0][0]

    def delete_session(self, session_id: str) -> None:
        with self._transaction(session_id) as cursor:
            self._fence(cursor, session_id, None)
            # The nodes go with the session (ON DELETE CASCADE).
            cursor.execute(self._statement("DELETE FROM {schema}.sessions WHERE session_id = %s"), (session_id,))

    def close(self) -> None:
        self._pool.close()


def _fault(exc: Exception, location: str) -> StoreUnavailable:
    """A driver error as the fault a person can act on (SQLite's wording where the cause is the same)."""
    if isinstance(exc, errors.LockNotAvailable):
        reason = "another process holds the store's write lock"
    elif isinstance(exc, errors.DiskFull):
        reason = "the disk holding the store is full"
    elif isinstance(exc, errors.ReadOnlySqlTransaction):
        reason = "the store is read-only"
    elif isinstance(exc, errors.SerializationFailure | errors.DeadlockDetected):
        reason = f"a concurrent write got in the way ({_one_line(exc)})"
    elif isinstance(exc, PoolTimeout):
        reason = "no connection to the database server came free (is the server up?)"
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        reason = f"the database server cannot be reached ({_one_line(exc)})"
    else:
        reason = f"the store failed ({_one_line(exc)})"
    return StoreUnavailable(f"conversation store {location}: {reason}; nothing was written, try again")
