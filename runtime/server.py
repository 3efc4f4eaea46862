"""The gRPC server: the AvatarService of the v1 contract plus standard health checking and reflection.

`create_server(address)` builds and binds a server without starting it and returns `(server, port)`, so
tests bind port 0 and learn the real port (the grpc asyncio examples' pattern).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from eai_avatar import vocabulary
from eai_avatar.v1 import SERVICE_NAME, service_pb2, service_pb2_grpc, session_pb2

logger = logging.getLogger(__name__)


class AvatarServicer(service_pb2_grpc.AvatarServiceServicer):
    """The v1 AvatarService. Methods not overridden here answer UNIMPLEMENTED (the generated default)."""

    def __init__(self, identities: Sequence[session_pb2.Identity] = ()):
        self._identities = list(identities)

    async def ListIdentities(self, request, context):  # noqa: N802 - the contract's method name
        return session_pb2.ListIdentitiesResponse(
            identities=self._identities,
            emotions=vocabulary.EMOTIONS,
            blendshape_names=vocabulary.ARKIT_BLENDSHAPES,
        )


async def create_server(
    address: str = "127.0.0.1:0",
    servicer: service_pb2_grpc.AvatarServiceServicer | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Build an asyncio gRPC server on `address` ("host:port"; port 0 picks a free one).

    Returns the server, not yet started, and the bound port. Health reports SERVING for "" and for the
    AvatarService as soon as the caller starts it.
    """
    host, sep, port_text = address.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"address must be HOST:PORT, e.g. 127.0.0.1:50051; got {address!r}")
    server = grpc.aio.server()
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

    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address!r}: is the port in use or the host not local?")
    logger.debug("AvatarService bound on port %d", port)
    return server, port
