"""The gRPC server: the AvatarService of the v1 contract, NVIDIA Audio2Face-3D's A2FControllerService on the same
port (service/a2f.py), plus standard health checking and reflection (v1 and v1alpha).

`create_server(address, servicer)` builds and binds a server without starting it and returns `(server, port)`, so
tests bind port 0 and learn the real port (the grpc asyncio examples' pattern). With a `token`, every call but
health checking and reflection needs the metadata `authorization: Bearer <token>` (else UNAUTHENTICATED); with
`tls` (certificate chain and key, PEM) the port is TLS. Requests that are not valid messages are answered
INVALID_ARGUMENT (`service/decoding.py`).
"""

from __future__ import annotations

import hmac
import logging

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from eai_avatar.runtime.service.a2f import A2F_SERVICE_NAME, A2FControllerServicer, add_a2f_servicer
from eai_avatar.runtime.service.decoding import DecodeGuard
from eai_avatar.runtime.service.servicer import AvatarServicer
from eai_avatar.v1 import SERVICE_NAME, service_pb2, service_pb2_grpc

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 8 << 20  # a client event larger than this gets RESOURCE_EXHAUSTED from gRPC itself
OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"

__all__ = ["AvatarServicer", "TokenAuth", "create_server"]


class TokenAuth(grpc.aio.ServerInterceptor):
    """Bearer-token check on every call except health checking and reflection."""

    def __init__(self, token: str):
        if not isinstance(token, str) or not token.strip():
            raise ValueError("an auth token must be a non-empty string (an empty one would turn authentication off)")
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


def _add_reflection_v1(server: grpc.aio.Server, service_names: tuple[str, ...]) -> None:
    """Serve grpc.reflection.v1 beside v1alpha (current grpcurl asks v1 first). The two protocols are the same
    messages under another package name, so v1 is v1alpha's servicer behind v1's method name, and v1's file is
    v1alpha's descriptor renamed into the descriptor pool (so clients can describe the reflection service too)."""
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(REFLECTION_V1)
    except KeyError:
        file = descriptor_pb2.FileDescriptorProto()
        reflection_pb2.DESCRIPTOR.CopyToProto(file)
        file.name, file.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
        for message in file.message_type:
            for field in message.field:
                if field.HasField("type_name"):
                    field.type_name = field.type_name.replace(".grpc.reflection.v1alpha.", ".grpc.reflection.v1.")
        for service in file.service:
            for method in service.method:
                method.input_type = method.input_type.replace("v1alpha", "v1")
                method.output_type = method.output_type.replace("v1alpha", "v1")
        pool.Add(file)
    servicer = reflection.aio.ReflectionServicer(service_names)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    generic = grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": handler})
    server.add_generic_rpc_handlers((generic,))


async def create_server(
    address: str = "127.0.0.1:0",
    servicer: service_pb2_grpc.AvatarServiceServicer | None = None,
    token: str | None = None,
    tls: tuple[bytes, bytes] | None = None,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    a2f: A2FControllerServicer | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Build an asyncio gRPC server on `address` ("host:port"; port 0 picks a free one).

    Returns the server, not yet started, and the bound port. Health reports SERVING for "" and for the
    AvatarService as soon as the caller starts it. `tls` is (certificate chain PEM, private key PEM). A `token`
    that is empty is refused: it would mean "no authentication" to a reader of the command line. `a2f` serves
    Audio2Face-3D's protocol; by default it runs on the AvatarService's Audio2Exp and model threads.
    """
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"address must be HOST:PORT, e.g. 127.0.0.1:50051; got {address!r}")
    interceptors = [DecodeGuard(f"/{SERVICE_NAME}/"), DecodeGuard(f"/{A2F_SERVICE_NAME}/")]
    if token is not None:
        interceptors.insert(0, TokenAuth(token))
    options = [("grpc.max_receive_message_length", max_message_bytes)]
    server = grpc.aio.server(interceptors=interceptors, options=options)
    servicer = servicer or AvatarServicer()
    service_pb2_grpc.add_AvatarServiceServicer_to_server(servicer, server)
    if a2f is None:
        manager = getattr(servicer, "manager", None)
        a2f = A2FControllerServicer(manager.models.expressions if manager is not None else None,
                                    getattr(servicer, "executor", None))  # fmt: skip
    add_a2f_servicer(a2f, server)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)

    service_names = (
        service_pb2.DESCRIPTOR.services_by_name["AvatarService"].full_name,
        A2F_SERVICE_NAME,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
        REFLECTION_V1,
    )
    reflection.enable_server_reflection(service_names, server)
    _add_reflection_v1(server, service_names)

    if tls:
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls[1], tls[0])]))
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address!r}: is the port in use or the host not local?")
    logger.debug("AvatarService bound on port %d", port)
    return server, port
