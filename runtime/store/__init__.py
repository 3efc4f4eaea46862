"""Durable conversation storage: sessions and their talking trees survive a restart.

`ConversationStore` is the interface; `SqliteStore` (WAL, one file) is the embedded default, and `PostgresStore`
(`eai_avatar.runtime.store.postgres`, the `postgres` extra) a database that several runtimes share. `open_store`
picks one by location: a postgresql:// URL or a file.
"""

from eai_avatar.runtime.store.base import (
    ConversationStore,
    Lease,
    LeaseLost,
    SessionLeased,
    SessionNotFoundError,
    SessionRecord,
    StoreCorrupt,
    StoreUnavailable,
    commit_round,
    default_db_path,
)
from eai_avatar.runtime.store.locations import DEFAULT_SCHEMA, is_postgres_url, open_store
from eai_avatar.runtime.store.sqlite import SqliteStore

__all__ = ["DEFAULT_SCHEMA", "ConversationStore", "Lease", "LeaseLost", "SessionLeased", "SessionNotFoundError",
           "SessionRecord", "SqliteStore", "StoreCorrupt", "StoreUnavailable", "commit_round", "default_db_path",
           "is_postgres_url", "open_store"]  # fmt: skip
