"""Durable conversation storage: sessions and their talking trees survive a restart.

`ConversationStore` is the interface; `SqliteStore` (WAL) is the default. A server database can
implement the same interface later.
"""

from eai_avatar.runtime.store.base import (
    ConversationStore,
    SessionNotFoundError,
    SessionRecord,
    StoreCorrupt,
    StoreUnavailable,
    commit_round,
    default_db_path,
)
from eai_avatar.runtime.store.sqlite import SqliteStore

__all__ = ["ConversationStore", "SessionNotFoundError", "SessionRecord", "SqliteStore", "StoreCorrupt",
           "StoreUnavailable", "commit_round", "default_db_path"]  # fmt: skip
