"""Where a conversation store is, and opening it there: a SQLite file (the embedded default, or ":memory:") or a
PostgreSQL URL (a database several runtimes share). Nothing here imports psycopg, so a runtime without the
`postgres` extra runs SQLite and is told what to install when it is given a URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from eai_avatar.import_utils import require
from eai_avatar.runtime.store.base import ConversationStore

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "eai_avatar"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def is_postgres_url(location: str) -> bool:
    return "://" in location and urlsplit(location).scheme in POSTGRES_SCHEMES


def check_location(location: str) -> str:
    """`location` if a store can be there; ValueError for a URL of another kind (a file path has no "://")."""
    if "://" in location and not is_postgres_url(location):
        scheme = location.partition("://")[0]
        raise ValueError(f"store: {redact_url(location)} is a {scheme}:// URL; a store is a SQLite file or a "
                         "postgresql://host[:port]/database URL")  # fmt: skip
    return location


def check_schema_name(schema: str) -> str:
    """`schema` if it is a plain lower-case PostgreSQL name (no quoting surprises); ValueError otherwise."""
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"store schema {schema!r} must be a lower-case name of letters, digits and _ (at most 63)")
    return schema


def redact_url(url: str) -> str:
    """The URL as it may be shown (logs, errors, the startup line): a password in it replaced by ***. A file path
    is returned as it is."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        query = urlencode([(key, "***" if key == "password" else value) for key, value in pairs], safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def open_store(location: str, lock_timeout_s: float = 10.0, schema: str = DEFAULT_SCHEMA) -> ConversationStore:
    """The store at `location`: PostgreSQL for a postgresql:// URL (tables in `schema`), else a SQLite file.
    `lock_timeout_s` is how long a write waits for another writer's lock before it fails as StoreUnavailable."""
    check_location(location)
    if is_postgres_url(location):
        for module in ("psycopg", "psycopg_pool"):
            require(module, f"the PostgreSQL conversation store ({redact_url(location)})")
        from eai_avatar.runtime.store.postgres import PostgresStore

        return PostgresStore(location, schema=schema, timeout_s=lock_timeout_s)
    from eai_avatar.runtime.store.sqlite import SqliteStore

    return SqliteStore(location, timeout_s=lock_timeout_s)
