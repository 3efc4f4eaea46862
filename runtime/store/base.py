"""The storage interface every conversation store implements, its errors, and the retrying commit of a round.

Guarantees every store gives: a round's nodes commit whole or not at all, ids run 1..N without gaps, a call that
returns has made its change durable, and a fault outside the request (a lock held by another process, a full
disk, an I/O error) is a `StoreUnavailable` with a message a person can act on, never a raw driver exception.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eai_avatar.runtime.errors import FailedPrecondition, NotFound, Unavailable
from eai_avatar.runtime.itt.tree import InteractiveTalkingTree, TalkNode

logger = logging.getLogger(__name__)


class SessionNotFoundError(NotFound):
    """No stored session has the given id."""

    def __init__(self, session_id: str):
        super().__init__(f"no session {session_id!r} in the conversation store")
        self.session_id = session_id


class StoreUnavailable(Unavailable):
    """The store could not do a write or read now (locked by another process, disk full, I/O error); nothing was
    changed, and the same call may succeed later."""


class StoreCorrupt(FailedPrecondition):
    """What the store holds for a session is not a tree eq. 7 could have grown (a gap in the node ids, a wrong
    link): the session cannot be resumed until it is repaired or closed."""


@dataclass(frozen=True)
class SessionRecord:
    """A stored session: its id, its two characters and free-form settings (mode, options, ...)."""

    session_id: str
    characters: tuple[str, str]
    created_unix_ms: int
    metadata: dict = field(default_factory=dict)
    clock_ms: int = 0  # the session's presentation clock: where its next turn starts, across restarts


def default_db_path() -> Path:
    """$EAI_AVATAR_DB, else ~/.local/share/eai-avatar/conversations.db."""
    configured = os.environ.get("EAI_AVATAR_DB")
    if configured:
        return Path(configured)
    return Path.home() / ".local" / "share" / "eai-avatar" / "conversations.db"


class ConversationStore(ABC):
    """Sessions and their trees. `append_nodes` returns only once the nodes are durable, so the runtime can
    send a turn's first frame knowing the turn's nodes survive a crash."""

    #: Where the store keeps its data, as a person may be shown it (a file, a URL without its password).
    location: str = ""

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
    def append_nodes(self, session_id: str, nodes: Sequence[TalkNode], clock_ms: int | None = None) -> None:
        """Durably append new nodes, atomically (all or none), and set the session's clock in the same transaction
        when `clock_ms` is given. ValueError if an id is already stored or the ids would leave a gap."""

    @abstractmethod
    def mark_interrupted(self, session_id: str, node_id: int, spoken_text: str, clock_ms: int | None = None) -> None:
        """Durably record that speak node `node_id`'s turn stopped after `spoken_text` (and set the clock with it).
        The one change a stored node takes after it was appended; ValueError if there is no such speak node."""

    @abstractmethod
    def set_clock(self, session_id: str, clock_ms: int) -> None:
        """Durably set the session's presentation clock (where its next turn starts)."""

    @abstractmethod
    def load_nodes(self, session_id: str) -> list[TalkNode]:
        """The session's nodes in id order, with forward links (child, right sibling) unset."""

    @abstractmethod
    def delete_session(self, session_id: str) -> None:
        """Remove a session and its nodes; SessionNotFoundError if absent. Works on a damaged session too."""

    @abstractmethod
    def count_rounds(self, session_id: str) -> int:
        """Rounds stored for the session, without reading them (so a damaged session can be counted and closed)."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections."""

    def load_tree(self, session_id: str) -> InteractiveTalkingTree:
        """Rebuild the session's tree exactly, checking every stored link (see `from_nodes`); StoreCorrupt if the
        stored nodes are not such a tree."""
        record = self.get_session(session_id)
        try:
            return InteractiveTalkingTree.from_nodes(record.characters, self.load_nodes(session_id))
        except ValueError as exc:
            raise StoreCorrupt(f"the stored tree of session {session_id!r} is damaged ({exc}); it cannot be "
                               "resumed: close the session, or repair the store") from None  # fmt: skip

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def commit_round(store: ConversationStore, session_id: str, nodes: Sequence[TalkNode], clock_ms: int, retries: int = 2,
                 backoff_s: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
    """Append a round's nodes (and the clock after it) durably, retrying a store that is unavailable `retries`
    times, `backoff_s` apart and doubling. Raises StoreUnavailable when every attempt failed: nothing was stored.

    A retry after a commit whose answer was lost finds its own nodes stored; that is success, not a conflict."""
    for attempt in range(retries + 1):
        try:
            store.append_nodes(session_id, nodes, clock_ms)
            return
        except StoreUnavailable as exc:
            if attempt == retries:
                raise
            logger.warning("store write for session %s failed (%s); retrying", session_id, exc)
            sleep(backoff_s * 2**attempt)
        except ValueError:
            if attempt and _already_stored(store, session_id, nodes):
                return
            raise


def _already_stored(store: ConversationStore, session_id: str, nodes: Sequence[TalkNode]) -> bool:
    stored = {node.id: node for node in store.load_nodes(session_id)}
    return all(node.id in stored and stored[node.id].text == node.text for node in nodes)
