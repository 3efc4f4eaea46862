"""The runtime with engines on Triton (PyTriton's tritonserver, CPU) behind the real gRPC service: a turn sends the
frames in-process engines send, and a Triton that goes away mid-turn is a clear status, then the end of the turn it
broke (interrupted where its media stopped), not a dead session. The same without Triton: an engine that fails mid-turn
(a stub raising EngineUnavailable) closes the turn the same way."""

import asyncio

import grpc
import numpy as np
import pytest

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import MODELS, RuntimeConfig, TritonConfig
from eai_avatar.runtime.errors import EngineUnavailable
from eai_avatar.runtime.pipeline import Models
from eai_avatar.runtime.triton.environment import TritonProcess
from eai_avatar.v1 import common_pb2, session_pb2, tree_pb2
from tests.conftest import free_port
from tests.contract.conftest import Stream, create, of, running, statuses

RAW_FRAMES = session_pb2.OutputOptions(pacing=session_pb2.PACING_AS_FAST_AS_POSSIBLE, include_images=True,
                                       image_encoding=common_pb2.IMAGE_ENCODING_RAW_RGBA, width=64,
                                       height=64)  # fmt: skip
LONG_LINE = ("I have been thinking about the river all morning, and the way the light falls on the water when the "
             "clouds open, and I would like to tell you all of it slowly.")  # fmt: skip


@pytest.mark.triton
def test_a_turn_with_every_model_on_triton_sends_the_frames_of_in_process_engines(models, triton_server, tmp_path):
    config = RuntimeConfig(engines=dict.fromkeys(MODELS, "triton"), triton=TritonConfig(url=triton_server.url))
    on_triton = Models(Bundle(default_bundle_path()), config)

    async def frames(turn_models, db):
        async with running(turn_models, db) as (stub, *_):
            session_id = await create(stub, output=RAW_FRAMES, seed=11)
            stream = await Stream(stub, session_id).attach()
            await stream.line("ada", "Hello, Bo. It is good to see you again.")
            await stream.until("turn_ended")
            return of(stream.events, "frame")

    local = asyncio.run(frames(models, tmp_path / "local.db"))
    remote = asyncio.run(frames(on_triton, tmp_path / "triton.db"))
    assert len(remote) == len(local) > 20
    assert [(f.avatar, f.index, f.presentation_ms) for f in remote] == [(f.avatar, f.index, f.presentation_ms)
                                                                         for f in local]  # fmt: skip
    difference = max(int(np.abs(np.frombuffer(a.image, np.uint8).astype(int) - np.frombuffer(b.image, np.uint8)).max())
                     for a, b in zip(remote, local, strict=True))  # fmt: skip
    assert difference == 0  # the same pixels: Triton computed what onnxruntime in-process does


@pytest.mark.triton
def test_triton_gone_mid_turn_is_unavailable_and_the_session_goes_on_when_it_is_back(pytriton_python, tmp_path):
    server = TritonProcess(pytriton_python, default_bundle_path(), grpc_port=free_port(), models=("renderer",))
    server.start()
    try:
        config = RuntimeConfig(engines={"renderer": "triton"}, triton=TritonConfig(url=server.url, timeout_s=5))
        on_triton = Models(Bundle(default_bundle_path()), config)

        async def scenario():
            async with running(on_triton, tmp_path / "s.db", config) as (stub, *_):
                session_id = await create(stub, output=RAW_FRAMES)  # with images: the renderer runs
                stream = await Stream(stub, session_id).attach()
                await stream.line("ada", LONG_LINE)
                await stream.until("frame")  # the turn is being rendered on Triton
                await asyncio.to_thread(server.kill)
                failed = await stream.until("status", timeout=60)
                await stream.until("turn_ended", timeout=10)  # the broken turn's end, right after its status
                await asyncio.to_thread(server.start)
                await stream.line("bo", "Are you back?")
                after = await stream.until("turn_ended", timeout=120)
                tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
                return failed, after, stream.events, tree

        failed, after, events, tree = asyncio.run(scenario())
    finally:
        server.stop()
    status = statuses(failed, grpc.StatusCode.UNAVAILABLE)
    assert len(status) == 1 and status[0].code == common_pb2.Status.CODE_WARNING
    assert f"the Triton server at {server.url} is unreachable" in status[0].message
    assert "end" not in [e.WhichOneof("event") for e in events]  # the stream stayed open through it
    assert [t.text for t in of(events, "turn_started")] == [LONG_LINE, "Are you back?"]
    assert of(after, "frame") and of(after, "turn_ended")[0].round == 2  # rendered on Triton again
    assert_broken_turn_closed(events, tree)


def assert_broken_turn_closed(events, tree) -> None:
    """Round 1 (LONG_LINE) broken by an UNAVAILABLE engine mid-turn, round 2 whole: the status, then round 1's
    turn_ended (interrupted, with the words sent), stored so; round 2 next, with no gap in the node ids."""
    kinds = [e.WhichOneof("event") for e in events]
    status_at = next(i for i, e in enumerate(events) if e.WhichOneof("event") == "status")
    assert events[status_at].status.grpc_code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert kinds[status_at + 1] == "turn_ended"
    broken, whole = of(events, "turn_ended")
    assert events[status_at + 1].turn_ended == broken and broken.round == 1 and broken.interrupted
    sent = [f for f in of(events[:status_at], "frame") if f.avatar == "ada"]
    assert 0 < broken.frames == len(sent)  # what the client got of the turn before it broke
    assert LONG_LINE.startswith(broken.spoken_text.rstrip(".,"))
    assert whole.round == 2 and not whole.interrupted
    first, second = of(events, "turn_started")
    assert second.start_ms == first.start_ms + broken.duration_ms  # the clock goes on from where the media stopped
    assert [n.id for n in tree.nodes] == [1, 2, 3, 4]
    spoken = [n for n in tree.nodes if n.state == common_pb2.ROLE_SPEAK]
    assert [n.text for n in spoken] == [LONG_LINE, "Are you back?"]  # both rounds stored, in one tree
    assert spoken[0].interrupted and spoken[0].spoken_text == broken.spoken_text and not spoken[1].interrupted


class FailingRenderer:
    """The renderer engine, made to fail as a Triton gone away does once `down` is set (a stub: no Triton needed)."""

    def __init__(self, engine):
        self.engine, self.down, self.calls = engine, False, 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def run(self, inputs):
        self.calls += 1
        if self.down:
            raise EngineUnavailable("the Triton server at 127.0.0.1:1 is unreachable, so 'renderer' could not run")
        return self.engine.run(inputs)


def test_an_engine_failing_mid_turn_ends_that_turn_interrupted_after_its_status(models, tmp_path, monkeypatch):
    renderer = FailingRenderer(models.renderer)
    monkeypatch.setattr(models, "renderer", renderer)

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, output=RAW_FRAMES)  # with images: the renderer runs
            stream = await Stream(stub, session_id).attach()
            await stream.line("ada", LONG_LINE)
            await stream.until("frame", 60)  # the turn is being rendered: a few words of it have gone out
            renderer.down = True
            await stream.until("turn_ended")
            renderer.down = False
            await stream.line("bo", "Are you back?")
            await stream.until("turn_ended")
            tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return stream.events, tree

    events, tree = asyncio.run(scenario())
    status = statuses(events, grpc.StatusCode.UNAVAILABLE)
    assert len(status) == 1 and status[0].code == common_pb2.Status.CODE_WARNING
    assert "is unreachable" in status[0].message and status[0].client_event == 1
    assert of(events, "turn_ended")[0].spoken_text  # the words that went out before the renderer failed
    assert_broken_turn_closed(events, tree)
