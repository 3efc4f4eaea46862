"""`backend`: each behavioural test of the store runs on SQLite (a file) and on PostgreSQL (a schema of its own on
the test server), through `open_store`, as the runtime opens them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from eai_avatar.runtime.store import ConversationStore, open_store

SQLITE_LOCKER = textwrap.dedent(
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


class Backend:
    """One database; `open` makes a new store on it (a new connection: what another replica would hold)."""

    name = ""

    def __init__(self, location: str, schema: str = "eai_avatar"):
        self.location, self.schema = location, schema

    def open(self, lock_timeout_s: float = 10.0) -> ConversationStore:
        return open_store(self.location, lock_timeout_s=lock_timeout_s, schema=self.schema)

    def execute(self, statement: str, params: tuple = ()) -> None:
        """Raw SQL on the store's tables (unqualified names), as a person with a database shell would run it."""
        raise NotImplementedError

    def hold_write_lock(self, session_id: str, seconds: float):
        """Another process takes the lock a write to `session_id` needs, keeps it `seconds`, then lets go;
        returns once it holds it, with something to `.join()`."""
        raise NotImplementedError

    def fail_writes(self, where: str) -> None:
        """From now on the database itself refuses a write, mid-transaction: `where` is "node 4" (inserting that
        node) or "clock" (updating a session's clock)."""
        raise NotImplementedError

    def stop_failing(self) -> None:
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"

    def execute(self, statement: str, params: tuple = ()) -> None:
        with sqlite3.connect(self.location) as db:
            db.execute(statement, params)

    def hold_write_lock(self, session_id: str, seconds: float):
        locker = subprocess.Popen([sys.executable, "-c", SQLITE_LOCKER, self.location, str(seconds)],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert locker.stdout.readline().strip() == "locked"
        locker.join = lambda: locker.wait(timeout=30)
        return locker

    def fail_writes(self, where: str) -> None:
        if where == "clock":
            trigger = "BEFORE UPDATE OF clock_ms ON sessions"
        else:
            trigger = f"BEFORE INSERT ON nodes WHEN NEW.node_id = {int(where.split()[1])}"
        self.execute(f"CREATE TRIGGER injected_fault {trigger} BEGIN SELECT RAISE(ABORT, 'injected fault'); END")

    def stop_failing(self) -> None:
        self.execute("DROP TRIGGER injected_fault")


class PostgresBackend(Backend):
    name = "postgres"

    def _connect(self):
        import psycopg

        return psycopg.connect(self.location, autocommit=True, options=f"-c search_path={self.schema}")

    def execute(self, statement: str, params: tuple = ()) -> None:
        with self._connect() as connection:
            connection.execute(statement, params)

    def hold_write_lock(self, session_id: str, seconds: float):
        held = threading.Event()

        def hold():  # a connection of its own: to the server, another process
            with self._connect() as connection, connection.transaction():
                connection.execute("SELECT 1 FROM sessions WHERE session_id = %s FOR UPDATE", (session_id,))
                held.set()
                threading.Event().wait(seconds)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(10)
        return holder

    def fail_writes(self, where: str) -> None:
        # disk_full: a fault of the server, not of the request (the store says so, and commit_round retries it)
        self.execute("CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = 'disk_full'; END $$")  # fmt: skip
        if where == "clock":
            trigger = "BEFORE UPDATE OF clock_ms ON sessions FOR EACH ROW"
        else:
            trigger = f"BEFORE INSERT ON nodes FOR EACH ROW WHEN (NEW.node_id = {int(where.split()[1])})"
        self.execute(f"CREATE TRIGGER injected_fault {trigger} EXECUTE FUNCTION injected_fault()")

    def stop_failing(self) -> None:
        self.execute("DROP FUNCTION injected_fault CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(str(tmp_path / "conv.db"))
    return PostgresBackend(request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_schema"))
