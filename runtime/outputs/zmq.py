"""The ZeroMQ output: a socket that fans every session's frames, audio and events out to local viewers.

The gRPC stream serves the client that drives a session; this is a side channel for anything else that wants to
watch (a debug viewer, a recorder, a second screen) without touching that stream. Publishing never blocks: a
slow or absent viewer loses messages, the runtime never waits for it.

Wire format (one ZeroMQ multipart message per item, three frames):

    frame 0  topic    the session id, UTF-8. Subscribe with the full session id (`sock.subscribe(session_id)`).
                      ZeroMQ matches topics by prefix, so "" receives every session, and a viewer of an id that
                      is a prefix of another's also gets the longer one's messages: check frame 0 equals the id.
    frame 1  header   a UTF-8 JSON object. Always present: "kind" ("frame", "audio" or "event") and "seq" (a
                      per-session counter from 0, in publish order: a gap means messages were dropped). The rest
                      are the publisher's fields; the runtime sends:
                        frame: avatar, index, presentation_ms, role ("speak"|"listen"), emotion, width, height,
                               encoding ("jpeg"|"png"|"raw_rgb"|"raw_rgba"), and optionally blendshapes
                               ({name: weight}) and head_pose ({yaw_deg, pitch_deg, roll_deg, tx, ty, scale});
                               the same fields and meanings as the Frame message of proto/eai_avatar/v1.
                        audio: avatar, presentation_ms, sample_rate.
                        event: type ("header"|"turn_started"|"turn_ended"|"human_speech"|"status"|"end")
                               and that event's fields as in the proto.
    frame 2  payload  bytes: the image as `encoding` says (raw: width * height * 3 or 4 bytes, row-major, top row
                      first) for "frame"; PCM16 little-endian mono samples for "audio"; usually empty for "event".

A viewer in a few lines (Python):

    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.connect("tcp://127.0.0.1:5556")
    sock.subscribe(session_id.encode())
    while True:
        topic, header, payload = sock.recv_multipart()
        header = json.loads(header)
        if header["kind"] == "frame" and header["encoding"] == "jpeg": ...

The socket is an XPUB with XPUB_NODROP, so a message that a matching subscriber has no room for fails at once
(zmq.NOBLOCK) instead of vanishing silently as on a plain PUB: that is what makes drops countable. The cost:
such a message is dropped for every viewer of that session, not just the slow one. Viewers of other sessions
are unaffected. Like any ZeroMQ subscriber, a viewer misses what is published before its subscription arrives.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from typing import Any

import zmq

from eai_avatar.runtime.rig.face_rig import POSE_FIELDS
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, SAMPLE_RATE

logger = logging.getLogger(__name__)

KINDS = ("frame", "audio", "event")
_RESERVED = ("kind", "seq")
_TCP = re.compile(r"^tcp://(?P<host>[^\s:/]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\*|\d{1,5})$")


def _check_address(address: str) -> str:
    """The address to bind, or a ValueError that names the bad value and the accepted forms."""
    forms = "tcp://HOST:PORT (PORT 1..65535, or * or 0 for a free one) or ipc://PATH"
    if not isinstance(address, str):
        raise ValueError(f"address must be a string, {forms}; got {address!r}")
    if address.startswith("ipc://"):
        if len(address) == len("ipc://"):
            raise ValueError(f"ipc address has no path: {address!r}; expected {forms}")
        return address
    match = _TCP.match(address)
    if match is None:
        raise ValueError(f"bad publisher address {address!r}; expected {forms}")
    port = match["port"]
    if port == "0":
        return address[: -len(port)] + "*"  # port 0 means "any free port", as for the gRPC server
    # libzmq does not range-check: tcp://host:99999 binds some random port instead of failing.
    if port != "*" and not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port} out of range 1..65535 in {address!r}")
    return address


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays (the runtime's weights and poses) without importing numpy here.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class FramePublisher:
    """Binds an XPUB socket at `address` and publishes multipart messages (see the module docstring).

    `send_hwm` bounds the messages queued per subscriber; beyond it `publish` drops and counts (`dropped`).
    `publish` may be called from several threads. `last_endpoint` is the address actually bound (with the
    real port when `address` asked for a free one).
    """

    def __init__(self, address: str, send_hwm: int = 1000, context: zmq.Context | None = None):
        bind_to = _check_address(address)
        if not isinstance(send_hwm, int) or send_hwm < 1:
            raise ValueError(f"send_hwm must be a positive integer, got {send_hwm!r}")
        self.address = address
        self.sent = 0
        self.dropped = 0
        self._seq: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()  # ZeroMQ sockets are not thread-safe
        self._socket = (context or zmq.Context.instance()).socket(zmq.XPUB)
        try:
            self._socket.setsockopt(zmq.SNDHWM, send_hwm)
            self._socket.setsockopt(zmq.XPUB_NODROP, 1)
            self._socket.setsockopt(zmq.LINGER, 0)  # close() must not wait for a viewer that stopped reading
            self._socket.bind(bind_to)
        except zmq.ZMQError as err:
            self._socket.close(linger=0)
            if err.errno == zmq.EADDRINUSE:
                raise OSError(f"cannot bind the frame publisher to {address!r}: the address is in use") from err
            raise ValueError(f"cannot bind the frame publisher to {address!r}: {err.strerror}") from err
        self.last_endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        logger.debug("frame publisher bound at %s", self.last_endpoint)

    @property
    def closed(self) -> bool:
        return self._socket.closed

    def publish(self, session_id: str, kind: str, header: dict[str, Any] | None = None, payload: bytes = b"") -> bool:
        """Send one message for `session_id`; returns False (and counts it in `dropped`) when a subscriber's
        queue is full. Never blocks."""
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id must be a non-empty string, got {session_id!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        header = header or {}
        clash = [key for key in _RESERVED if key in header]
        if clash:
            raise ValueError(f"header fields {clash} are set by the publisher; leave them out")
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise ValueError(f"payload must be bytes, got {type(payload).__name__}")
        with self._lock:
            if self._socket.closed:
                raise RuntimeError("the frame publisher is closed")
            seq = self._seq[session_id]
            try:
                text = json.dumps({"kind": kind, "seq": seq, **header}, separators=(",", ":"), default=_json_default)
            except (TypeError, ValueError) as err:
                raise ValueError(f"header for a {kind!r} message is not JSON: {err}") from err
            self._seq[session_id] = seq + 1
            try:
                # NOBLOCK + XPUB_NODROP: a full subscriber queue raises Again for the first part, and nothing of
                # the message is sent; once the first part is accepted ZeroMQ delivers the rest atomically.
                self._socket.send_multipart([session_id.encode(), text.encode(), payload], flags=zmq.NOBLOCK)
            except zmq.Again:
                self.dropped += 1
                return False
            self.sent += 1
            return True

    def forget(self, session_id: str) -> None:
        """Drop a closed session's sequence counter."""
        with self._lock:
            self._seq.pop(session_id, None)

    def close(self) -> None:
        """Close the socket, discarding anything still queued. Idempotent."""
        with self._lock:
            if not self._socket.closed:
                self._socket.close(linger=0)
                if self.dropped:
                    logger.info(
                        "frame publisher at %s dropped %d of %d messages",
                        self.last_endpoint,
                        self.dropped,
                        self.dropped + self.sent,
                    )

    def __enter__(self) -> FramePublisher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FramePublisher({self.last_endpoint!r}, sent={self.sent}, dropped={self.dropped})"


class PublisherOutput:
    """The ZeroMQ output: every event of every session's stream, published in the format above. A mirror of a
    `SessionStream` (`mirrors=[publisher_output]`): called with (session_id, event), never blocks."""

    def __init__(self, publisher: FramePublisher):
        self.publisher = publisher

    def __call__(self, session_id: str, event) -> None:
        from google.protobuf import json_format

        from eai_avatar.runtime.outputs.grpc import to_message
        from eai_avatar.runtime.pipeline.events import AudioOut, FrameOut, StreamFailed

        match event:
            case FrameOut(frame=f):
                header = {"avatar": f.avatar, "index": f.index, "presentation_ms": f.presentation_ms,
                          "role": f.role, "emotion": f.emotion, "width": f.width, "height": f.height,
                          "encoding": f.encoding}  # fmt: skip
                if f.blendshapes is not None:
                    header["blendshapes"] = dict(zip(ARKIT_BLENDSHAPES, map(float, f.blendshapes), strict=True))
                if f.head_pose is not None:
                    header["head_pose"] = {name: float(getattr(f.head_pose, name)) for name in POSE_FIELDS}
                self.publisher.publish(session_id, "frame", header, f.image)
            case AudioOut(piece=piece):
                header = {"avatar": piece.avatar, "presentation_ms": piece.presentation_ms, "sample_rate": SAMPLE_RATE}
                self.publisher.publish(session_id, "audio", header, piece.samples.astype("<i2").tobytes())
            case StreamFailed(error=error):
                self.publisher.publish(session_id, "event", {"type": "end", "reason": f"failed: {error}"})
            case _:
                message = to_message(event)
                kind = message.WhichOneof("event")
                fields = json_format.MessageToDict(getattr(message, kind), preserving_proto_field_name=True)
                self.publisher.publish(session_id, "event", {"type": kind, **fields})
