"""What only the PostgreSQL store has: a URL (read, refused with a reason, never shown with its password), schemas
that keep stores apart, connections that come back after the server drops them, and the config and commands
that pick it by URL. What every store guarantees is tested on both in test_stores.py."""

import json
import subprocess
import sys
import uuid
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from eai_avatar import import_utils
from eai_avatar.cli import main
from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.store import SessionRecord, SqliteStore, StoreUnavailable, open_store
from eai_avatar.runtime.store.postgres import PostgresStore
from tests.runtime.itt.conftest import build_three_rounds


def _record(session_id="s1"):
    return SessionRecord(session_id, ("ada", "bo"), 0, {"propagation": {"current_node_only": True}})


def test_an_unreachable_server_or_a_bad_url_is_refused_naming_the_url_without_its_password():
    with pytest.raises(StoreUnavailable, match=r"postgresql://u:\*\*\*@127.0.0.1:1/test .*cannot connect .*refused"):
        open_store("postgresql://u:hunter2@127.0.0.1:1/test")
    with pytest.raises(ValueError, match=r"\*\*\*@127.0.0.1/test\?bogus=1: not a usable PostgreSQL URL .*bogus") as bad:
        open_store("postgresql://u:hunter2@127.0.0.1/test?bogus=1")
    assert "hunter2" not in str(bad.value)
    with pytest.raises(ValueError, match="is a mysql:// URL; a store is a SQLite file or a postgresql://"):
        open_store("mysql://127.0.0.1/test")
    with pytest.raises(ValueError, match="schema 'Avatars' must be a lower-case name"):
        open_store("postgresql://127.0.0.1/test", schema="Avatars")


def test_the_sqlite_default_does_not_import_psycopg():
    code = (
        "import sys; from eai_avatar.runtime.store import open_store; open_store(':memory:').close(); "
        "import eai_avatar.runtime.config, eai_avatar.runtime.commands.serve; print('psycopg' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_without_psycopg_a_url_says_what_to_install(monkeypatch):
    monkeypatch.setattr(import_utils, "is_available", lambda module: module not in ("psycopg", "psycopg_pool"))
    with pytest.raises(ImportError, match=r"PostgreSQL conversation store .*pip install 'eai-avatar\[postgres\]'"):
        open_store("postgresql://127.0.0.1:5432/test")


def test_schemas_keep_stores_apart_and_the_same_schema_is_shared(postgres_url, postgres_schema):
    other = f"{postgres_schema}_b"
    try:
        with open_store(postgres_url, schema=postgres_schema) as mine, open_store(postgres_url, schema=other) as theirs:
            mine.create_session(_record())
            theirs.create_session(_record())  # the same id, in another schema
            mine.append_nodes("s1", build_three_rounds().nodes)
            assert theirs.count_rounds("s1") == 0 and mine.count_rounds("s1") == 3
            assert "(schema " + postgres_schema + ")" in mine.location
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(other)))


def test_a_layout_newer_than_the_runtime_is_refused(postgres_url, postgres_schema):
    open_store(postgres_url, schema=postgres_schema).close()
    with psycopg.connect(postgres_url, autocommit=True, options=f"-c search_path={postgres_schema}") as connection:
        connection.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="schema version 3, this runtime reads 2"):
        open_store(postgres_url, schema=postgres_schema)


def test_connections_the_server_drops_are_replaced(postgres_url, postgres_schema):
    """What a server restart does to a running store: its connections die; the next calls get new ones."""
    name = f"eai_test_{uuid.uuid4().hex[:8]}"
    with open_store(f"{postgres_url}?application_name={name}", schema=postgres_schema) as store:
        store.create_session(_record())
        nodes = build_three_rounds().nodes
        store.append_nodes("s1", nodes[:2])
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            killed = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                                   (name,)).fetchall()  # fmt: skip
        assert killed
        store.append_nodes("s1", nodes[2:4])
        assert len(store.load_tree("s1")) == 4


def test_commits_wait_for_the_wal_even_where_the_server_says_not_to(postgres_url, postgres_schema):
    with PostgresStore(f"{postgres_url}?options=-c%20synchronous_commit%3Doff", schema=postgres_schema) as store:
        with store._pool.connection() as connection:
            assert connection.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            assert connection.execute("SHOW lock_timeout").fetchone()[0] == "10s"


def test_the_config_picks_the_store_by_its_url(postgres_url, postgres_schema, tmp_path):
    file = tmp_path / "runtime.toml"
    file.write_text(f'[store]\npath = "{postgres_url}"\nschema = "{postgres_schema}"\nlock_timeout_s = 0.5\n')
    with RuntimeConfig.load(file, env={}).open_store() as store:
        assert isinstance(store, PostgresStore) and store.schema == postgres_schema
        store.create_session(_record())
    env = {"EAI_AVATAR_DB": postgres_url, "EAI_AVATAR_DB_SCHEMA": postgres_schema}
    with RuntimeConfig.load(env=env).open_store() as store:  # the environment, and the same database
        assert [r.session_id for r in store.list_sessions()] == ["s1"]
    flags = {"store.path": str(tmp_path / "conv.db")}  # a flag over both: back to a SQLite file
    with RuntimeConfig.load(file, env=env, overrides=flags).open_store() as store:
        assert isinstance(store, SqliteStore) and store.list_sessions() == []
    hidden = RuntimeConfig.load(env={"EAI_AVATAR_DB": "postgresql://u:hunter2@db/avatars"}).to_dict()
    assert hidden["store"]["path"] == "postgresql://u:***@db/avatars"


def test_the_tree_command_reads_a_postgres_store(postgres_url, postgres_schema, monkeypatch, capsys):
    with open_store(postgres_url, schema=postgres_schema) as store:
        store.create_session(_record())
        store.append_nodes("s1", build_three_rounds().nodes)
    monkeypatch.setenv("EAI_AVATAR_DB_SCHEMA", postgres_schema)
    assert main(["tree", "s1", "--db", postgres_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["nodes"]) == 6 and data["propagation"]["current_node_only"] is True
    assert main(["tree", "nope", "--db", postgres_url]) == 2 and "no session 'nope'" in capsys.readouterr().err


def test_a_value_postgres_cannot_hold_is_a_valueerror_and_stores_nothing(postgres_url, postgres_schema):
    nodes = build_three_rounds().nodes
    with open_store(postgres_url, schema=postgres_schema) as store:
        store.create_session(_record())
        with pytest.raises(ValueError, match="refused a value .*NUL"):  # text cannot hold NUL (the runtime refuses it)
            store.append_nodes("s1", [nodes[0], replace(nodes[1], text="a\x00b")], clock_ms=5)
        assert store.load_nodes("s1") == [] and store.get_session("s1").clock_ms == 0
