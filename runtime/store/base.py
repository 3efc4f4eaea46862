"""The storage interface every conversation store implements, its errors, and the retrying commit of a round.

Guarantees every store gives: a round's nodes commit whole or not at all, ids run 1..N without gaps, a call that
returns has made its change durable, and a fault outside the request (a lock held by another process, a full
disk, an I/O error) is a `StoreUnavailable` with a message a person can act on, never a raw driver exception.

Leases (DESIGN.md section 13): a session is driven by one replica at a time. The replica that drives it holds a
`Lease` in the store (holder, epoch, expiry) and renews it; another replica is refused (`SessionLeased`) until it
runs out. Every take of a lease raises its epoch by one, and a write that names a lease (`lease=`) commits only
while the store still holds that holder and epoch, in the write's own transaction: a replica that lost its lease
can never write after another took it over (`LeaseLost`). Every store decides with the same function
(`decide_lease`), on its own clock: the database server's for PostgreSQL, the machine's for a SQLite file.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


class SessionLeased(Unavailable):
    """Another replica holds a live lease on the session: it drives the session until the lease runs out (or it lets
    go). Nothing was changed; attach to that replica, or here again after `retry_after_ms`."""

    def __init__(self, session_id: str, holder: str, expires_unix_ms: int, now_unix_ms: int):
        self.session_id, self.holder, self.expires_unix_ms = session_id, holder, expires_unix_ms
        self.retry_after_ms = max(0, expires_unix_ms - now_unix_ms)
        until = datetime.fromtimestamp(expires_unix_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(f"session {session_id!r} is driven by replica {holder!r} (its lease runs until {until}, "
                         f"{self.retry_after_ms / 1000:.1f} s from now): attach there, or here again once the lease "
                         "has run out")  # fmt: skip


class LeaseLost(FailedPrecondition):
    """A write named a lease the store no longer holds for the session: another replica took the session over (or
    this replica did again, from a newer stream), so this one must stop driving it. Nothing was written."""

    def __init__(self, session_id: str, lease: Lease, holder: str, epoch: int):
        self.session_id, self.lease, self.holder, self.epoch = session_id, lease, holder, epoch
        super().__init__(f"replica {holder!r} took session {session_id!r} over (lease {epoch}; this stream held lease "
                         f"{lease.epoch} for replica {lease.holder!r}); nothing more is written from here")  # fmt: skip


@dataclass(frozen=True)
class Lease:
    """A replica's hold on a session. `epoch` counts the takes (it rises by one with each), so (holder, epoch) names
    one hold exactly and is the fence a write is checked against; `expires_unix_ms` is on the store's clock.
    `taken` says whether this acquisition was a take (a new epoch) or carried on the hold it named."""

    holder: str = ""  # the replica id; empty: never held
    epoch: int = 0
    expires_unix_ms: int = 0
    taken: bool = False

    def live(self, now_unix_ms: int) -> bool:
        return bool(self.holder) and self.expires_unix_ms > now_unix_ms


def decide_lease(session_id: str, stored: Lease, holder: str, held_epoch: int | None, now_unix_ms: int,
                 ttl_s: float) -> Lease:  # fmt: skip
    """What `acquire_lease` stores, the same for every store, given the stored lease (read under the session's
    write lock): `holder` carries on the hold of `held_epoch` if the store still has it; else takes a new epoch if
    the lease is free, run out or its own (a replica restarted under its id, or a second copy of a session in one
    process: the newest wins and fences the other); else SessionLeased."""
    if not holder:
        raise ValueError("a lease needs a holder (the replica's id)")
    expires = now_unix_ms + max(1, round(ttl_s * 1000))
    if stored.holder == holder and held_epoch is not None and stored.epoch == held_epoch:
        return Lease(holder, stored.epoch, expires, taken=False)
    if stored.holder != holder and stored.live(now_unix_ms):
        raise SessionLeased(session_id, stored.holder, stored.expires_unix_ms, now_unix_ms)
    return Lease(holder, stored.epoch + 1, expires, taken=True)


def check_fence(session_id: str, lease: Lease | None, holder: str, epoch: int) -> None:
    """A write naming `lease` may go on only while the store holds that very hold (LeaseLost otherwise). Expiry is
    not checked: a hold that lapsed but that nobody took is still the only one, and the take is what fences."""
    if lease is not None and (holder, epoch) != (lease.holder, lease.epoch):
        raise LeaseLost(session_id, lease, holder, epoch)


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
    def append_nodes(self, session_id: str, nodes: Sequence[TalkNode], clock_ms: int | None = None,
                     lease: Lease | None = None) -> None:  # fmt: skip
        """Durably append new nodes, atomically (all or none), and set the session's clock in the same transaction
        when `clock_ms` is given. ValueError if an id is already stored or the ids would leave a gap; LeaseLost if
        `lease` is given and the store no longer holds it (checked in the same transaction)."""

    @abstractmethod
    def mark_interrupted(self, session_id: str, node_id: int, spoken_text: str, clock_ms: int | None = None,
                         lease: Lease | None = None) -> None:  # fmt: skip
        """Durably record that speak node `node_id`'s turn stopped after `spoken_text` (and set the clock with it).
        The one change a stored node takes after it was appended; ValueError if there is no such speak node;
        LeaseLost as for append_nodes."""

    @abstractmethod
    def set_clock(self, session_id: str, clock_ms: int, lease: Lease | None = None) -> None:
        """Durably set the session's presentation clock (where its next turn starts); LeaseLost as for
        append_nodes."""

    @abstractmethod
    def acquire_lease(self, session_id: str, holder: str, ttl_s: float, held_epoch: int | None = None) -> Lease:
        """Take (or carry on) the session's lease for replica `holder` until `ttl_s` from now, as `decide_lease`
        says; SessionLeased while another replica's lease is live, SessionNotFoundError for an unknown id."""

    @abstractmethod
    def renew_lease(self, session_id: str, lease: Lease, ttl_s: float) -> Lease:
        """Push the hold's expiry to `ttl_s` from now; LeaseLost if the store no longer holds `lease`,
        SessionNotFoundError if the session is gone (closed)."""

    @abstractmethod
    def release_lease(self, session_id: str, lease: Lease) -> None:
        """Let go: the hold runs out now, so another replica may take the session at once. The holder and epoch stay,
        so the same hold carries on if its replica acquires again first. Nothing happens if the store no longer holds
        `lease` or the session is gone."""

    @abstractmethod
    def read_lease(self, session_id: str) -> Lease:
        """The session's lease as stored (holder "" if it was never held); SessionNotFoundError if absent."""

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
                 backoff_s: float = 0.25, sleep: Callable[[float], None] = time.sleep,
                 lease: Lease | None = None) -> None:  # fmt: skip
    """Append a round's nodes (and the clock after it) durably, retrying a store that is unavailable `retries`
    times, `backoff_s` apart and doubling. Raises StoreUnavailable when every attempt failed: nothing was stored.
    With `lease`, each attempt commits only under that hold (LeaseLost, not retried, once another replica has it).

    A retry after a commit whose answer was lost finds its own nodes stored; that is success, not a conflict."""
    for attempt in range(retries + 1):
        try:
            store.append_nodes(session_id, nodes, clock_ms, lease=lease)
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
