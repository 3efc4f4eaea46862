"""Shared fixtures for the whole suite."""

import os
import socket
import uuid
from pathlib import Path

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


#: The PyTriton venv the Triton tests make once (from PyPI, ~30 s) and reuse: .cache/ of the checkout, gitignored.
PYTRITON_VENV = Path(os.environ.get("EAI_AVATAR_PYTRITON_VENV") or Path(__file__).resolve().parents[1] / ".cache"
                     / "pytriton-venv")  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def pytriton_python() -> Path:
    """The PyTriton venv's python (made here if missing: it needs PyPI, as `make test` does)."""
    from eai_avatar.runtime.triton.environment import ensure_venv

    return ensure_venv(PYTRITON_VENV)


@pytest.fixture(scope="session")
def triton_server(pytriton_python):
    """PyTriton's tritonserver serving every model of the bundle that ships (onnxruntime on the CPU)."""
    from eai_avatar.runtime.bundle import default_bundle_path
    from eai_avatar.runtime.triton.environment import TritonProcess

    with TritonProcess(pytriton_python, default_bundle_path(), grpc_port=free_port()) as server:
        yield server
