"""The runtime's error kinds. The pipeline and the sessions raise these (never gRPC types); each output maps them
to its own codes at the edge (the gRPC service: `runtime/service/statuses.py`).

All are ValueError, LookupError or RuntimeError subclasses, so code that catches the built-in kinds keeps working.
"""

from __future__ import annotations


class InvalidInput(ValueError):
    """A request or event that is wrong in itself (a field out of range, undecodable bytes): INVALID_ARGUMENT."""


class LimitExceeded(InvalidInput):
    """Within the contract's shape but over a documented limit (text length, audio per event): RESOURCE_EXHAUSTED."""


class NotFound(LookupError):
    """An unknown session, identity, character or voice: NOT_FOUND."""

    def __str__(self) -> str:  # LookupError quotes its argument; the message is already a sentence
        return str(self.args[0]) if self.args else ""


class FailedPrecondition(RuntimeError):
    """Valid, but not in the session's present state (user audio in an AGENT_AGENT session, a closed session, a
    stored tree that cannot be read): FAILED_PRECONDITION."""


class Unavailable(RuntimeError):
    """A transient fault outside the request (the store is locked or its disk full, a backend is unreachable); the
    request may succeed when retried: UNAVAILABLE."""


class EngineUnavailable(Unavailable):
    """A model's engine cannot answer now: a remote inference server (Triton) unreachable, its model not ready, or
    a request to it that failed or timed out. The turn that needed it fails; the session stays, and the next
    request tries the server again: UNAVAILABLE."""
