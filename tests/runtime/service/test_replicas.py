"""Two `eai-avatar serve` processes (replicas) on one PostgreSQL store: a session is driven by one replica at a time
(its lease), the other refuses it while that lease is live, takes it over once the lease has run out (the holder
SIGKILLed mid-turn, or stopped), continues from the last committed node with the clock intact, and a replica that
lost its lease writes nothing more. The same with both replicas' models on one tritonserver: the replica that takes
the session over renders it on that server.

The wire's own messages are used (tests/contract's helpers), as a client in any language sends them."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest

pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.runtime.config import MODELS  # noqa: E402
from eai_avatar.runtime.itt.serialization import tree_to_proto  # noqa: E402
from eai_avatar.runtime.store import open_store  # noqa: E402
from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2_grpc, session_pb2, tree_pb2  # noqa: E402
from tests.contract.conftest import Stream, create, of  # noqa: E402

LEASE_TTL_S = 1.5
#: Real-time pacing (a turn lasts as long as its voice, so a replica can be stopped inside one), no images (fast).
PACED = session_pb2.OutputOptions(pacing=session_pb2.PACING_REAL_TIME, include_images=False)
#: The same with small raw pictures of the speaker: every frame is rendered (by the renderer, on Triton below).
PACED_PICTURES = session_pb2.OutputOptions(pacing=session_pb2.PACING_REAL_TIME, include_images=True,
                                           image_encoding=common_pb2.IMAGE_ENCODING_RAW_RGBA, width=64, height=64,
                                           include_listener_frames=False)  # fmt: skip


class Replica:
    """One `eai-avatar serve` process on the PostgreSQL store, its output drained (and kept) by a thread."""

    def __init__(self, name: str, postgres_url: str, config_file):
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--db", postgres_url, "--replica-id", name,
             "--config", str(config_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.lines: list[str] = []
        self._port = threading.Event()
        self.port = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                self._port.set()
        self._port.set()

    def wait_ready(self, timeout_s: float = 180) -> int:
        self._port.wait(timeout_s)
        if not self.port:
            raise RuntimeError(f"replica {self.name} did not start: {''.join(self.lines)[-3000:]}")
        return self.port

    def signal(self, signum) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def two_replicas(postgres_url, postgres_schema, tmp_path, more_config: str = ""):
    """Replicas "a" and "b" on the PostgreSQL schema, with a short lease; `more_config`: TOML both also read."""
    config = tmp_path / "runtime.toml"
    config.write_text(f'[store]\nschema = "{postgres_schema}"\nlease_ttl_s = {LEASE_TTL_S}\n{more_config}')
    replicas = [Replica(name, postgres_url, config) for name in ("a", "b")]  # they load their models side by side
    try:
        for replica in replicas:
            replica.wait_ready()
        yield replicas
    finally:
        for replica in replicas:
            replica.stop()


async def refused_until_taken(stub, session_id: str, timeout_s: float = 30.0):
    """Attach to `session_id` until the replica behind `stub` drives it: (the stream, its header, the refusals
    met first as (code, details, trailing metadata), seconds it took)."""
    started, refusals = time.monotonic(), []
    while True:
        stream = await Stream(stub, session_id).attach()
        try:
            header = (await stream.until("header", timeout=30))[0].header
            return stream, header, refusals, time.monotonic() - started
        except grpc.aio.AioRpcError as error:
            refusals.append((error.code(), error.details(), dict(await stream.call.trailing_metadata() or ())))
            if error.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() - started > timeout_s:
                raise
            await asyncio.sleep(0.1)


def stored_tree(postgres_url, postgres_schema, session_id):
    with open_store(postgres_url, schema=postgres_schema) as store:
        return store.load_tree(session_id), store.get_session(session_id).clock_ms, store.read_lease(session_id)


def fields(node):
    return (node.id, node.state, node.character, node.text, node.emotion, node.confidence, node.parent,
            node.left_sibling, node.depth)  # fmt: skip


def test_a_session_moves_to_the_other_replica_when_its_replica_is_sigkilled_mid_turn(
    postgres_url, postgres_schema, tmp_path
):
    with two_replicas(postgres_url, postgres_schema, tmp_path) as (replica_a, replica_b):

        async def scenario():
            channels = [grpc.aio.insecure_channel(f"127.0.0.1:{r.port}") for r in (replica_a, replica_b)]
            stub_a, stub_b = (service_pb2_grpc.AvatarServiceStub(channel) for channel in channels)
            session_id = await create(stub_a, output=PACED)
            on_a = await Stream(stub_a, session_id).attach()
            await on_a.line("ada", "We start on the first server.")
            await on_a.line("bo", "And it keeps the tree in PostgreSQL.")
            await on_a.line("ada", "This line is cut short by a kill.")
            await on_a.until("turn_ended", 2)
            # While a drives the session, b refuses it, naming a, and says when to try again.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await (await Stream(stub_b, session_id).attach()).until("header")
            refusal = (refused.value.code(), refused.value.details(), dict(refused.value.trailing_metadata()))
            seen_by_b = await stub_b.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))  # reads are free
            await on_a.until("turn_started")
            await on_a.until("frame", 10)  # inside the third turn
            replica_a.signal(signal.SIGKILL)
            replica_a.process.wait()
            with pytest.raises(grpc.aio.AioRpcError):
                await on_a.until("end", timeout=30)
            committed = stored_tree(postgres_url, postgres_schema, session_id)
            on_b, header, refusals, waited = await refused_until_taken(stub_b, session_id)
            await on_b.line("bo", "The second server goes on from there.")
            await on_b.until("turn_ended")
            whole = await stub_b.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            replica_b.signal(signal.SIGTERM)  # a replica stopped in order lets go of its sessions at once
            stopping = of(await on_b.until("end"), "end")[0]
            await asyncio.to_thread(replica_b.process.wait, 30)
            let_go, now_ms = stored_tree(postgres_url, postgres_schema, session_id)[2], time.time() * 1000
            for channel in channels:
                await channel.close()
            return {"refusal": refusal, "seen_by_b": seen_by_b, "events_a": on_a.events, "committed": committed,
                    "header": header, "refusals": refusals, "waited": waited, "events_b": on_b.events, "whole": whole,
                    "stopping": stopping, "let_go": let_go, "now_ms": now_ms}  # fmt: skip

        result = asyncio.run(scenario())
    seen_by_b, events_a, header, refusals, events_b, whole = (result[name] for name in (
        "seen_by_b", "events_a", "header", "refusals", "events_b", "whole"))  # fmt: skip
    (committed, clock_ms, lease), (code, details, trailing) = result["committed"], result["refusal"]
    assert code == grpc.StatusCode.UNAVAILABLE and "is driven by replica 'a'" in details
    assert trailing["eai-avatar-lease-holder"] == "a" and 0 < int(trailing["eai-avatar-retry-after-ms"]) <= 1500
    assert [n.id for n in seen_by_b.nodes] == [1, 2, 3, 4]

    # a was killed inside its third turn: that round was committed before its first frame left
    started_on_a = of(events_a, "turn_started")
    assert [t.round for t in started_on_a] == [1, 2, 3] and len(of(events_a, "turn_ended")) == 2
    assert committed.rounds == 3 and lease.holder == "a"
    assert [committed.node(2 * t.round - 1).text for t in started_on_a] == [t.text for t in started_on_a]

    # b refused while a's lease was live (a's last renewal at most TTL/3 before the kill), then took the session
    assert refusals and all(c == grpc.StatusCode.UNAVAILABLE and "replica 'a'" in d for c, d, _ in refusals)
    assert result["waited"] <= LEASE_TTL_S + 5
    assert header.rounds_so_far == 3 and header.clock_ms == clock_ms  # the last committed node, the stored clock
    started_on_b = of(events_b, "turn_started")[0]
    assert (started_on_b.round, started_on_b.start_ms) == (4, clock_ms)

    # every committed node kept, nothing lost or doubled, b's round hangs off a's last one
    assert [n.id for n in whole.nodes] == list(range(1, 9))
    kept = tree_to_proto(committed, "").nodes
    assert [fields(n) for n in whole.nodes[:6]] == [fields(n) for n in kept]
    assert whole.nodes[6].text == "The second server goes on from there." and whole.nodes[6].parent == 6
    assert result["stopping"].reason == "server stopping"
    assert result["let_go"].holder == "b" and result["let_go"].expires_unix_ms <= result["now_ms"]


def test_a_stopped_replica_that_lost_its_session_writes_nothing_and_gets_it_back_later(
    postgres_url, postgres_schema, tmp_path
):
    """a is stopped (SIGSTOP: alive, but not renewing) while it drives a session with turns still queued; b takes the
    session over once a's lease has run out; a wakes up (SIGCONT) and, fenced, ends its stream "attached elsewhere"
    without writing a node; the client later returns to a, which reloads the session b grew and goes on."""
    with two_replicas(postgres_url, postgres_schema, tmp_path) as (replica_a, replica_b):

        async def scenario():
            channels = [grpc.aio.insecure_channel(f"127.0.0.1:{r.port}") for r in (replica_a, replica_b)]
            stub_a, stub_b = (service_pb2_grpc.AvatarServiceStub(channel) for channel in channels)
            session_id = await create(stub_a, output=PACED)
            on_a = await Stream(stub_a, session_id).attach()
            for number in range(1, 6):
                await on_a.line(("ada", "bo")[number % 2], f"Line {number} from the first server.")
            await on_a.until("turn_ended")
            await on_a.until("frame", 10)  # inside the second turn; three more wait in a's queue
            replica_a.signal(signal.SIGSTOP)
            before = stored_tree(postgres_url, postgres_schema, session_id)
            on_b, header, refusals, _ = await refused_until_taken(stub_b, session_id)
            await on_b.line("ada", "Taken over by the second server.")
            await on_b.until("turn_ended")
            replica_a.signal(signal.SIGCONT)
            ended_on_a = await on_a.until("end", timeout=30)
            await asyncio.sleep(LEASE_TTL_S)  # time for any write a might still try
            after_wake = stored_tree(postgres_url, postgres_schema, session_id)
            await on_b.send(end=converse_pb2.EndStream())
            await on_b.until("end")  # b lets go of the lease: a may take the session at once
            back_on_a = await Stream(stub_a, session_id).attach()
            back_header = (await back_on_a.until("header"))[0].header
            await back_on_a.line("bo", "And back on the first.")
            await back_on_a.until("turn_ended")
            whole = await stub_a.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            for channel in channels:
                await channel.close()
            return before, header, refusals, ended_on_a, after_wake, back_header, whole

        before, header, refusals, ended_on_a, after_wake, back_header, whole = asyncio.run(scenario())
    (tree_before, _, _), (tree_after, clock_after, lease_after) = before, after_wake
    assert tree_before.rounds == 2 and header.rounds_so_far == 2 and refusals
    end = of(ended_on_a, "end")[0]
    assert end.reason == "attached elsewhere: replica 'b' took this session over"
    # nothing a had queued was written after the takeover: a's two rounds, then b's one
    assert [n.text for n in tree_after.nodes][::2] == ["Line 1 from the first server.",
                                                       "Line 2 from the first server.",
                                                       "Taken over by the second server."]  # fmt: skip
    assert lease_after.holder == "b"
    assert back_header.rounds_so_far == 3 and back_header.clock_ms == clock_after
    assert [n.id for n in whole.nodes] == list(range(1, 9))
    assert [n.text for n in whole.nodes][::2][-2:] == ["Taken over by the second server.", "And back on the first."]


def renderer_inferences(triton_url: str) -> int:
    """Frames the Triton server's renderer has rendered since it started (its own statistics)."""
    from tritonclient.grpc import InferenceServerClient

    client = InferenceServerClient(triton_url)
    try:
        return client.get_inference_statistics("renderer").model_stats[0].inference_count
    finally:
        client.close()


@pytest.mark.triton
def test_replicas_with_their_models_on_one_triton_hand_over_a_session_when_one_is_sigkilled(
    postgres_url, postgres_schema, triton_server, tmp_path
):
    """Issue 19 whole: two replicas on PostgreSQL, every model of both on one tritonserver; a is SIGKILLed inside a
    turn, the client goes to b once a's lease has run out, and b goes on from the last committed node, its frames
    rendered by that Triton (its statistics count them; a is dead, so only b can have asked)."""
    engines = "".join(f'{name} = "triton"\n' for name in MODELS)
    on_triton = f'[engines]\n{engines}[triton]\nurl = "{triton_server.url}"\n'
    with two_replicas(postgres_url, postgres_schema, tmp_path, on_triton) as (replica_a, replica_b):

        async def scenario():
            channels = [grpc.aio.insecure_channel(f"127.0.0.1:{r.port}") for r in (replica_a, replica_b)]
            stub_a, stub_b = (service_pb2_grpc.AvatarServiceStub(channel) for channel in channels)
            session_id = await create(stub_a, output=PACED_PICTURES)
            on_a = await Stream(stub_a, session_id).attach()
            await on_a.line("ada", "Both servers draw us on one Triton.")
            await on_a.line("bo", "This line is cut short by a kill.")
            await on_a.until("turn_ended")
            await on_a.until("turn_started")
            await on_a.until("frame", 10)  # inside the second turn
            replica_a.signal(signal.SIGKILL)
            replica_a.process.wait()
            with pytest.raises(grpc.aio.AioRpcError):
                await on_a.until("end", timeout=30)
            committed = stored_tree(postgres_url, postgres_schema, session_id)
            rendered_before = await asyncio.to_thread(renderer_inferences, triton_server.url)
            on_b, header, refusals, _ = await refused_until_taken(stub_b, session_id)
            await on_b.line("ada", "The second server goes on.")
            await on_b.until("turn_ended")
            rendered_by_b = await asyncio.to_thread(renderer_inferences, triton_server.url) - rendered_before
            whole = await stub_b.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            for channel in channels:
                await channel.close()
            return committed, header, refusals, on_b.events, rendered_by_b, whole

        (committed, clock_ms, _), header, refusals, events_b, rendered_by_b, whole = asyncio.run(scenario())
    for replica in (replica_a, replica_b):
        assert re.search(rf"serving on .*replica {replica.name}, engines triton\b", "".join(replica.lines))
    assert committed.rounds == 2 and refusals and header.rounds_so_far == 2 and header.clock_ms == clock_ms
    frames_b = of(events_b, "frame")
    assert frames_b and all(len(f.image) == 64 * 64 * 4 for f in frames_b)
    assert rendered_by_b >= len(frames_b)  # every picture b sent was rendered on Triton
    assert [n.id for n in whole.nodes] == list(range(1, 7))  # every committed node kept, no gap, b's round after
    kept = tree_to_proto(committed, "").nodes
    assert [fields(n) for n in whole.nodes[:4]] == [fields(n) for n in kept]
    assert whole.nodes[4].text == "The second server goes on." and whole.nodes[4].parent == 4
