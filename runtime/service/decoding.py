"""Bytes that do not parse as the method's request message become an `Undecodable` value instead of an exception
inside gRPC, so the servicer can answer INVALID_ARGUMENT (gRPC itself would answer UNKNOWN, or, on a stream, let
the reader die with no status at all)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError


@dataclass(frozen=True)
class Undecodable:
    error: Exception


def _safe(deserializer):
    def deserialize(data: bytes):
        try:
            return deserializer(data)
        except (DecodeError, ValueError, RuntimeError) as exc:  # protobuf raises DecodeError (some builds, others)
            return Undecodable(ValueError(f"the request is not a valid message of this method ({exc})"))

    return deserialize


class DecodeGuard(grpc.aio.ServerInterceptor):
    """Gives the methods under `prefix` a deserializer that never raises (see the module docstring)."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or not details.method.startswith(self.prefix) or handler.request_deserializer is None:
            return handler
        return handler._replace(request_deserializer=_safe(handler.request_deserializer))
