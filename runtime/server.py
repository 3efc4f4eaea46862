"""The gRPC server: the AvatarService of the v1 contract plus standard health checking and reflection.

`create_server(address, servicer)` builds and binds a server without starting it and returns `(server, port)`, so
tests bind port 0 and learn the real port (the grpc asyncio examples' pattern). With a `token`, every call but
health checking and reflection needs the metadata `authorization: Bearer <token>` (else UNAUTHENTICATED); with
`tls` (certificate chain and key, PEM) the port is TLS.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eai_avatar import vocabulary
from eai_avatar.runtime.itt.serialization import tree_to_proto
from eai_avatar.runtime.service.converse import ConverseStream
from eai_avatar.runtime.service.sessions import RequestError, SessionManager
from eai_avatar.v1 import SERVICE_NAME, service_pb2, service_pb2_grpc, session_pb2

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4 << 20  # a client event larger than this gets RESOURCE_EXHAUSTED from gRPC itself
OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class AvatarServicer(service_pb2_grpc.AvatarServiceServicer):
    """The v1 AvatarService. Without a session manager (no bundle loaded) only ListIdentities answers."""

    def __init__(self, identities: Sequence[session_pb2.Identity] = (), manager: SessionManager | None = None,
                 workers: int = 2, publisher=None):  # fmt: skip
        self.manager, self.publisher = manager, publisher
        if manager is not None and not identities:
            bundle = manager.models.bundle
            size = manager.models.image_size
            identities = [session_pb2.Identity(name=i.name, display_name=i.display_name, default_voice=i.voice,
                                               native_width=size, native_height=size)
                          for i in bundle.identities.values()]  # fmt: skip
        self._identities = list(identities)
        # Model work runs here, off the event loop, so health checks and other sessions' I/O stay responsive.
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eai-avatar-model")

    async def ListIdentities(self, request, context):  # noqa: N802 - the contract's method name
        return session_pb2.ListIdentitiesResponse(
            identities=self._identities,
            emotions=vocabulary.EMOTIONS,
            blendshape_names=vocabulary.ARKIT_BLENDSHAPES,
        )

    async def _manager(self, context) -> SessionManager:
        if self.manager is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "this server has no engine bundle loaded")
        return self.manager

    async def CreateSession(self, request, context):  # noqa: N802
        manager = await self._manager(context)
        try:
            session_id, settings = await asyncio.get_running_loop().run_in_executor(
                self.executor, manager.create, request
            )
        except RequestError as error:
            await context.abort(error.code, str(error))
        characters = [
            session_pb2.Character(identity=name, voice=settings.voices[name], persona=settings.personas[name])
            for name in settings.characters
        ]
        return session_pb2.CreateSessionResponse(session_id=session_id, characters=characters, output=settings.output)

    async def _session(self, session_id: str, context):
        manager = await self._manager(context)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, manager.get, session_id)
        except RequestError as error:
            await context.abort(error.code, str(error))

    async def GetTree(self, request, context):  # noqa: N802
        session = await self._session(request.session_id, context)
        return tree_to_proto(session.conversation.tree, session.id)

    async def CloseSession(self, request, context):  # noqa: N802
        manager = await self._manager(context)
        try:
            rounds = await asyncio.get_running_loop().run_in_executor(self.executor, manager.close, request.session_id)
        except RequestError as error:
            await context.abort(error.code, str(error))
        return session_pb2.CloseSessionResponse(rounds=rounds)

    async def Converse(self, request_iterator, context):  # noqa: N802
        manager = await self._manager(context)
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("event") != "attach":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first event of a stream must be attach")
        session = await self._session(first.attach.session_id, context)
        stream = ConverseStream(session, request_iterator, manager.store, self.executor, self.publisher)
        try:
            async for event in stream.events():
                yield event
        except Exception:  # a bug in one stream must not take the server down; the client gets INTERNAL
            logger.exception("stream of session %s failed", session.id)
            await context.abort(grpc.StatusCode.INTERNAL, "the server failed on this stream (logged)")


class TokenAuth(grpc.aio.ServerInterceptor):
    """Bearer-token check on every call except health checking and reflection."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("an auth token must be a non-empty string")
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(self, continuation, details):
        if details.method.startswith(OPEN_METHODS):
            return await continuation(details)
        given = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(str(given).encode(), self._expected):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None

        async def deny_unary(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        async def deny_stream(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
            yield  # pragma: no cover - makes this an async generator, as a streaming handler must be

        if handler.response_streaming:
            factory = grpc.stream_stream_rpc_method_handler if handler.request_streaming else \
                grpc.unary_stream_rpc_method_handler  # fmt: skip
            return factory(deny_stream)
        factory = grpc.stream_unary_rpc_method_handler if handler.request_streaming else \
            grpc.unary_unary_rpc_method_handler  # fmt: skip
        return factory(deny_unary)


async def create_server(
    address: str = "127.0.0.1:0",
    servicer: service_pb2_grpc.AvatarServiceServicer | None = None,
    token: str | None = None,
    tls: tuple[bytes, bytes] | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Build an asyncio gRPC server on `address` ("host:port"; port 0 picks a free one).

    Returns the server, not yet started, and the bound port. Health reports SERVING for "" and for the
    AvatarService as soon as the caller starts it. `tls` is (certificate chain PEM, private key PEM).
    """
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"address must be HOST:PORT, e.g. 127.0.0.1:50051; got {address!r}")
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    server = grpc.aio.server(interceptors=[TokenAuth(token)] if token else None, options=options)
    service_pb2_grpc.add_AvatarServiceServicer_to_server(servicer or AvatarServicer(), server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)

    service_names = (
        service_pb2.DESCRIPTOR.services_by_name["AvatarService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(service_names, server)

    if tls:
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls[1], tls[0])]))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address!r}: is the port in use or the host not local?")
    logger.debug("AvatarService bound on port %d", port)
    return server, port
