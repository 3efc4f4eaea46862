"""The storage interface every conversation store implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eai_avatar.runtime.itt.tree import InteractiveTalkingTree, TalkNode


class SessionNotFoundError(LookupError):
    """No stored session has the given id."""

    def __init__(self, session_id: str):
        super().__init__(f"no session {session_id!r} in the conversation store")
        self.session_id = session_id


@dataclass(frozen=True)
class SessionRecord:
    """A stored session: its id, its two characters and free-form settings (mode, options, ...)."""

    session_id: str
    characters: tuple[str, str]
    created_unix_ms: int
    metadata: dict = field(default_factory=dict)


def default_db_path() -> Path:
    """$EAI_AVATAR_DB, else ~/.local/share/eai-avatar/conversations.db."""
    configured = os.environ.get("EAI_AVATAR_DB")
    if configured:
        return Path(configured)
    return Path.home() / ".local" / "share" / "eai-avatar" / "conversations.db"


class ConversationStore(ABC):
    """Sessions and their trees. `append_nodes` returns only once the nodes are durable, so the runtime can
    send a turn's first frame knowing the turn's nodes survive a crash."""

    @abstractmethod
    def create_session(self, record: SessionRecord) -> None:
        """Store a new session; ValueError if the id is taken."""

    @abstractmethod
    def get_session(self, session_id: str) -> SessionRecord:
        """The session's record; SessionNotFoundError if absent."""

    @abstractmethod
    def update_metadata(self, session_id: str, metadata: dict) -> None:
        """Replace the session's metadata; SessionNotFoundError if absent."""

    @abstractmethod
    def list_sessions(self) -> list[SessionRecord]:
        """All stored sessions, oldest first."""

    @abstractmethod
    def append_nodes(self, session_id: str, nodes: Sequence[TalkNode]) -> None:
        """Durably append new nodes, atomically (all or none). ValueError if an id is already stored."""

    @abstractmethod
    def load_nodes(self, session_id: str) -> list[TalkNode]:
        """The session's nodes in id order, with forward links (child, right sibling) unset."""

    @abstractmethod
    def delete_session(self, session_id: str) -> None:
        """Remove a session and its nodes; SessionNotFoundError if absent."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""

    def load_tree(self, session_id: str) -> InteractiveTalkingTree:
        """Rebuild the session's tree exactly, checking every stored link (see `from_nodes`)."""
        record = self.get_session(session_id)
        return InteractiveTalkingTree.from_nodes(record.characters, self.load_nodes(session_id))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
