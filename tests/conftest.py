"""Shared fixtures for the whole suite."""

import os
import uuid

import pytest

#: The PostgreSQL server the store's tests use (the project's machines and CI run one here, trust auth).
POSTGRES_URL = os.environ.get("EAI_AVATAR_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL; the test is skipped only when no server answers there (psycopg itself is a dev
    dependency: without it the test fails, so a broken install is not mistaken for a missing server)."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server at {POSTGRES_URL}: {' '.join(str(exc).split())}")
    return POSTGRES_URL


@pytest.fixture
def postgres_schema(postgres_url) -> str:
    """A schema of the test's own (the store makes it), dropped with everything in it afterwards."""
    import psycopg
    from psycopg import sql

    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield schema
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
