"""The server skeleton starts on port 0 with health and reflection; a client lists the service."""

import asyncio
import threading

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from eai_avatar import vocabulary
from eai_avatar.runtime.server import create_server
from eai_avatar.v1 import SERVICE_NAME, service_pb2_grpc, session_pb2


def test_health_reflection_and_list_identities():
    async def scenario():
        server, port = await create_server("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                health = health_pb2_grpc.HealthStub(channel)
                for name in ("", SERVICE_NAME):
                    reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                    assert reply.status == health_pb2.HealthCheckResponse.SERVING
                identities = await service_pb2_grpc.AvatarServiceStub(channel).ListIdentities(
                    session_pb2.ListIdentitiesRequest()
                )
                assert list(identities.emotions) == list(vocabulary.EMOTIONS)
                assert len(identities.blendshape_names) == 52
        finally:
            await server.stop(grace=None)
        return port

    port = asyncio.run(scenario())
    assert port > 0


def test_reflection_lists_and_describes_the_service():
    async def start():
        server, port = await create_server("127.0.0.1:0")
        await server.start()
        return server, port

    loop = asyncio.new_event_loop()
    server, port = loop.run_until_complete(start())
    # The reflection client is synchronous: serve from the loop in a background thread meanwhile.
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            database = ProtoReflectionDescriptorDatabase(channel)
            services = database.get_services()
            assert SERVICE_NAME in services
            assert "grpc.health.v1.Health" in services
            pool = descriptor_pool.DescriptorPool(database)
            service = pool.FindServiceByName(SERVICE_NAME)
            assert {m.name for m in service.methods} >= {"Converse", "CreateSession", "GetTree"}
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(grace=None), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.mark.parametrize("address", ["50051", "localhost", ":50051", "host:port"])
def test_bad_address_is_a_clear_error(address):
    with pytest.raises(ValueError, match="HOST:PORT"):
        asyncio.run(create_server(address))
