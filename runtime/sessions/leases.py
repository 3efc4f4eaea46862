"""Keeping a session's lease while a stream drives it: renewed every third of its time to live, let go when the
stream ends, and the stream stopped as soon as the store says another replica has the session (DESIGN.md
section 13).

Renewals run on the event loop's default executor, never on the model workers: a renewal queued behind a turn's
rendering could arrive after the lease ran out and hand a live session to another replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from eai_avatar.runtime.store.base import ConversationStore, LeaseLost, SessionNotFoundError, StoreUnavailable

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """This replica's lease on `session` (taken by `SessionManager.take`) for as long as one stream drives it.

    Args:
        store: the conversation store holding the lease.
        session: the session (its `lease` is the hold; renewals replace it).
        ttl_s: the lease's time to live; it is renewed every `ttl_s / 3`.
    """

    def __init__(self, store: ConversationStore, session, ttl_s: float):
        self.store, self.session, self.ttl_s = store, session, ttl_s

    async def keep(self, stop: Callable[[str], None]) -> None:
        """Renew at once (a stream attaching here may follow one that just let go), then every third of the time
        to live, until cancelled. A lease another replica took ends the stream ("attached elsewhere: ..."), a
        session deleted by CloseSession on another replica ends it ("session closed"); a store that cannot be
        reached now is tried again at the next beat (if the lease runs out meanwhile, a take elsewhere fences this
        replica's writes, so nothing is lost by going on)."""
        loop = asyncio.get_running_loop()
        session = self.session
        while True:
            lease = session.lease
            try:
                session.lease = await loop.run_in_executor(None, self.store.renew_lease, session.id, lease, self.ttl_s)
            except LeaseLost as lost:
                logger.info("session %s: %s", session.id, lost)
                stop(f"attached elsewhere: replica {lost.holder!r} took this session over")
                return
            except SessionNotFoundError:
                stop("session closed")
                return
            except StoreUnavailable as exc:
                logger.warning("session %s: could not renew its lease (%s); trying again", session.id, exc)
            await asyncio.sleep(self.ttl_s / 3)

    def release(self) -> None:
        """Let go (synchronous: run it in a thread), so another replica can take the session at once. A store that
        cannot be reached now only delays that until the lease runs out."""
        lease = self.session.lease
        if lease is None:
            return
        try:
            self.store.release_lease(self.session.id, lease)
        except StoreUnavailable as exc:
            logger.warning("session %s: could not let go of its lease (%s); it runs out by itself", self.session.id,
                           exc)  # fmt: skip
