"""The v1 AvatarService: wire messages in, the session layer's calls, wire messages out. It translates and maps
errors to statuses; everything a conversation does happens in `runtime/sessions` and `runtime/pipeline`.

Every method answers a runtime error with its contract status (`outputs.grpc.status_code`) and the error's own
message; anything unexpected is logged with its traceback and answered INTERNAL with no internals in the text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc

from eai_avatar import vocabulary
from eai_avatar.runtime.config import Limits
from eai_avatar.runtime.errors import InvalidInput, NotFound
from eai_avatar.runtime.outputs.grpc import status_code, to_message
from eai_avatar.runtime.pipeline.events import StreamFailed
from eai_avatar.runtime.service import translate
from eai_avatar.runtime.service.decoding import Undecodable as UndecodableMessage
from eai_avatar.runtime.sessions import SessionManager, SessionStream, Undecodable
from eai_avatar.runtime.sessions.leases import LeaseKeeper
from eai_avatar.runtime.store.base import SessionLeased
from eai_avatar.v1 import service_pb2_grpc, session_pb2

logger = logging.getLogger(__name__)

_EXPECTED = (ValueError, LookupError, RuntimeError)
#: Trailing metadata of an attach refused because another replica drives the session (service.proto).
LEASE_HOLDER_KEY, RETRY_AFTER_KEY = "eai-avatar-lease-holder", "eai-avatar-retry-after-ms"


def _statuses(method):
    """Runtime errors -> their gRPC status; a bug -> INTERNAL, logged. For unary methods."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        if isinstance(request, UndecodableMessage):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(request.error))
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except _EXPECTED as error:
            code = status_code(error)
            if code is grpc.StatusCode.INTERNAL:
                logger.exception("%s failed", method.__name__)
                await context.abort(code, f"the server failed on {method.__name__} (logged)")
            await context.abort(code, str(error))
        except Exception:
            logger.exception("%s failed", method.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, f"the server failed on {method.__name__} (logged)")

    return wrapper


class AvatarServicer(service_pb2_grpc.AvatarServiceServicer):
    """The v1 AvatarService. Without a session manager (no bundle loaded) only ListIdentities answers.

    Args:
        manager: sessions and their store.
        workers: threads for model work (off the event loop, so health checks and other sessions stay responsive).
        mirrors: outputs that see every session's events too (the ZeroMQ publisher).
    """

    def __init__(self, identities: Sequence[session_pb2.Identity] = (), manager: SessionManager | None = None,
                 workers: int = 2, mirrors: Sequence[Callable] = ()):  # fmt: skip
        self.manager, self.mirrors = manager, list(mirrors)
        self.limits: Limits = manager.config.limits if manager is not None else Limits()
        if manager is not None and not identities:
            bundle, size = manager.models.bundle, manager.models.image_size
            identities = [session_pb2.Identity(name=i.name, display_name=i.display_name, default_voice=i.voice,
                                               native_width=size, native_height=size)
                          for i in bundle.identities.values()]  # fmt: skip
        self._identities = list(identities)
        self._voices: list[str] | None = None  # the TTS's, asked once (loading the TTS takes a moment)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eai-avatar-model")
        self.streams: set[SessionStream] = set()

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def _manager(self, context) -> SessionManager:
        if self.manager is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "this server has no engine bundle loaded")
        return self.manager

    @_statuses
    async def ListIdentities(self, request, context):  # noqa: N802 - the contract's method name
        if self._voices is None and self.manager is not None:
            self._voices = await self._run(self.manager.models.voices) or []
        from eai_avatar.runtime.dialogue import list_dialogues

        return session_pb2.ListIdentitiesResponse(identities=self._identities, emotions=vocabulary.EMOTIONS,
                                                  blendshape_names=vocabulary.ARKIT_BLENDSHAPES,
                                                  voices=self._voices or [], dialogues=list_dialogues())  # fmt: skip

    @_statuses
    async def CreateSession(self, request, context):  # noqa: N802
        manager = await self._manager(context)
        session_id, settings = await self._run(manager.create, translate.session_request(request))
        return translate.session_response(session_id, settings)

    @_statuses
    async def GetTree(self, request, context):  # noqa: N802
        manager = await self._manager(context)
        tree, accumulated = await self._run(manager.tree, request.session_id)
        return await self._run(translate.tree_page, tree, accumulated, request.session_id, request, self.limits)

    @_statuses
    async def CloseSession(self, request, context):  # noqa: N802
        manager = await self._manager(context)
        rounds = await manager.close(request.session_id, self._run)
        return session_pb2.CloseSessionResponse(rounds=rounds)

    async def Converse(self, request_iterator, context):  # noqa: N802
        manager = await self._manager(context)
        first = await anext(aiter(request_iterator), None)
        if isinstance(first, UndecodableMessage):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(first.error))
        if first is None or first.WhichOneof("event") != "attach":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first event of a stream must be attach")
        try:
            session = await self._run(manager.take, first.attach.session_id)
        except SessionLeased as error:  # another replica drives it: say which, and when it may be tried here again
            metadata = ((LEASE_HOLDER_KEY, error.holder), (RETRY_AFTER_KEY, str(error.retry_after_ms)))
            await context.abort(status_code(error), str(error), metadata)
        except _EXPECTED as error:
            await context.abort(status_code(error), str(error))
        keeper = LeaseKeeper(manager.store, session, manager.lease_ttl_s)
        stream = SessionStream(session, self._commands(request_iterator), self.limits, self.executor, self.mirrors,
                               keeper)  # fmt: skip
        self.streams.add(stream)
        try:
            async for event in stream.events():
                if isinstance(event, StreamFailed):
                    await context.abort(status_code(event.error), str(event.error))
                yield to_message(event)
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except NotFound as error:  # closed between finding the session and attaching to it
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except Exception:  # a bug in one stream must not take the server down; the client gets INTERNAL
            logger.exception("stream of session %s failed", session.id)
            await context.abort(grpc.StatusCode.INTERNAL, "the server failed on this stream (logged)")
        finally:
            # Kept until its producer has let go (its last write, its lease), which may be after the call ended, so
            # stop_streams waits for that before the store closes.
            finished = asyncio.ensure_future(stream.finished())
            finished.add_done_callback(lambda _: self.streams.discard(stream))

    async def _commands(self, request_iterator) -> AsyncIterator:
        async for event in request_iterator:
            if isinstance(event, UndecodableMessage):
                yield Undecodable(InvalidInput(str(event.error)))
                return
            yield translate.command(event, self.limits)

    async def stop_streams(self, reason: str = "server stopping", timeout_s: float = 5.0) -> None:
        """End every attached stream (before the server stops): each closes its turn, stores its clock and ends with
        StreamEnd(reason) within a chunk; waits for that (at most `timeout_s`)."""
        streams = list(self.streams)
        for stream in streams:
            stream.stop(reason)
        if streams:
            await asyncio.wait([asyncio.ensure_future(s.finished()) for s in streams], timeout=timeout_s)
