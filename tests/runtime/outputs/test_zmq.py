"""The frame publisher: per-session topics, the header/payload wire format, drops instead of blocking."""

import json
import time

import numpy as np
import pytest
import zmq

from eai_avatar.runtime.outputs.zmq import FramePublisher


def subscriber(endpoint: str, topic: str, rcvhwm: int = 1000) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, rcvhwm)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.subscribe(topic.encode())
    return sock


def wait_until_subscribed(publisher: FramePublisher, sock: zmq.Socket, session_id: str) -> None:
    """Publish probes until the subscription has reached the publisher (ZeroMQ's slow joiner), then drain them."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        publisher.publish(session_id, "event", {"type": "probe"})
        if sock.poll(50):
            while sock.poll(50):
                sock.recv_multipart()
            return
    raise TimeoutError(f"subscription to {session_id!r} never arrived")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:*", "tcp://127.0.0.1:0", "ipc"])
def test_subscriber_gets_its_session_only_with_header_and_payload_intact(address, tmp_path):
    if address == "ipc":
        address = f"ipc://{tmp_path}/frames.sock"
    with FramePublisher(address) as publisher:
        assert publisher.last_endpoint.startswith(address.split(":")[0])
        assert not publisher.last_endpoint.endswith((":*", ":0"))
        mine = subscriber(publisher.last_endpoint, "session-a")
        try:
            wait_until_subscribed(publisher, mine, "session-a")
            probes = publisher.sent
            image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
            pose = {"yaw_deg": np.float32(2.5), "scale": 1.0}
            sent = [
                ("session-a", "frame", {"avatar": "ada", "index": 0, "width": 6, "height": 4, "head_pose": pose},
                 image.tobytes()),
                ("session-b", "frame", {"avatar": "bo", "index": 0}, b"other session"),
                ("session-a", "audio", {"avatar": "ada", "presentation_ms": 0, "sample_rate": 16000},
                 np.array([1, -2, 3], "<i2").tobytes()),
                ("session-a", "event", {"type": "turn_ended", "round": 1}, b""),
            ]  # fmt: skip
            for session_id, kind, header, payload in sent:
                assert publisher.publish(session_id, kind, header, payload)

            received = []
            while mine.poll(200):
                received.append(mine.recv_multipart())
        finally:
            mine.close()
        assert publisher.sent == probes + 4 and publisher.dropped == 0

    assert [topic for topic, _, _ in received] == [b"session-a"] * 3
    headers = [json.loads(header) for _, header, _ in received]
    assert [h["kind"] for h in headers] == ["frame", "audio", "event"]
    assert [h["seq"] for h in headers] == [probes, probes + 1, probes + 2]  # session-a's own counter
    assert headers[0] == {
        "kind": "frame",
        "seq": probes,
        "avatar": "ada",
        "index": 0,
        "width": 6,
        "height": 4,
        "head_pose": {"yaw_deg": 2.5, "scale": 1.0},
    }
    frame = np.frombuffer(received[0][2], np.uint8).reshape(headers[0]["height"], headers[0]["width"], 3)
    np.testing.assert_array_equal(frame, image)
    np.testing.assert_array_equal(np.frombuffer(received[1][2], "<i2"), [1, -2, 3])
    assert headers[2] == {"kind": "event", "seq": probes + 2, "type": "turn_ended", "round": 1}
    assert received[2][2] == b""


def test_a_subscriber_that_never_reads_never_blocks_the_publisher():
    payload = bytes(10_000)
    with FramePublisher("tcp://127.0.0.1:*", send_hwm=1000) as publisher:
        idle = subscriber(publisher.last_endpoint, "s", rcvhwm=100)
        try:
            wait_until_subscribed(publisher, idle, "s")
            start = time.perf_counter()
            results = [publisher.publish("s", "frame", {"index": i}, payload) for i in range(10_000)]
            elapsed = time.perf_counter() - start
        finally:
            idle.close()
        assert elapsed < 2.0, f"10,000 publishes took {elapsed:.2f} s"
        assert publisher.dropped == results.count(False) > 0  # the queues filled: later messages were dropped
        assert publisher.sent >= 1000  # up to the high-water marks (plus socket buffers) went out

        # Nobody subscribed to this session: sending is instant and nothing counts as dropped.
        before = publisher.dropped
        assert all(publisher.publish("nobody", "audio", {}, payload) for _ in range(1000))
        assert publisher.dropped == before


def test_bad_addresses_and_arguments_fail_clearly(tmp_path):
    for address in ("127.0.0.1:5556", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "udp://127.0.0.1:5", "ipc://", 5):
        with pytest.raises(ValueError, match="address|port"):
            FramePublisher(address)
    with pytest.raises(ValueError, match="cannot bind.*no-such-host.invalid"):
        FramePublisher("tcp://no-such-host.invalid:5556")
    with pytest.raises(ValueError, match="cannot bind"):
        FramePublisher(f"ipc://{tmp_path}/missing/dir/frames.sock")
    with FramePublisher("tcp://127.0.0.1:*") as publisher:
        with pytest.raises(OSError, match="in use"):
            FramePublisher(publisher.last_endpoint)
        with pytest.raises(ValueError, match="kind must be one of frame, audio, event"):
            publisher.publish("s", "video", {}, b"")
        with pytest.raises(ValueError, match="set by the publisher"):
            publisher.publish("s", "frame", {"seq": 3}, b"")
        with pytest.raises(ValueError, match="not JSON"):
            publisher.publish("s", "frame", {"when": object()}, b"")
        with pytest.raises(ValueError, match="session_id"):
            publisher.publish("", "frame", {}, b"")
    assert publisher.closed
    with pytest.raises(RuntimeError, match="closed"):
        publisher.publish("s", "frame", {}, b"")
    publisher.close()  # idempotent
