"""The renderer batcher: frames from many sessions rendered in shared batches equal those rendered alone, a failing
batch gives every caller in it the error it would have had alone, and it stops cleanly with the server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import BatchingConfig, RuntimeConfig
from eai_avatar.runtime.engines import create_engine
from eai_avatar.runtime.engines.base import Engine, TensorSpec
from eai_avatar.runtime.engines.batching import BatchingEngine
from eai_avatar.runtime.errors import EngineUnavailable
from eai_avatar.runtime.pipeline.frames import AvatarChunk, MediaChunk
from eai_avatar.runtime.pipeline.stages import Render

RENDERER = default_bundle_path() / "renderer.onnx"


class _Doubling(Engine):
    """out = 2 * x, recording the batch sizes it ran; `fail` makes every run raise it; `gate` holds runs."""

    name = "doubling"

    def __init__(self, fail: Exception | None = None, gate: threading.Event | None = None):
        self.fail, self.gate, self.sizes = fail, gate, []
        self.entered = threading.Event()  # set once a run has begun (and waits at the gate)

    def input_spec(self) -> list[TensorSpec]:
        return [TensorSpec("x", ("batch", 3), "float32")]

    def output_spec(self) -> list[TensorSpec]:
        return [TensorSpec("y", ("batch", 3), "float32")]

    def run(self, inputs):
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.sizes.append(len(inputs["x"]))
        if self.fail is not None:
            raise self.fail
        return {"y": inputs["x"] * 2}


def _feeds(count: int, rows: int = 6, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"control": rng.random((rows, 4, 256, 256)).astype(np.float32),
             "identity": np.full(rows, index % 4, np.int64)} for index in range(count)]  # fmt: skip


def _together(engine: Engine, feeds: list[dict]) -> list[dict]:
    """Every feed run at once, from threads of its own (as sessions' workers call it)."""
    with ThreadPoolExecutor(len(feeds)) as pool:
        return list(pool.map(engine.run, feeds))


def test_frames_rendered_in_shared_batches_equal_those_rendered_alone():
    engine = create_engine(RENDERER, threads=1)
    feeds = _feeds(4)
    alone = [engine.run(feed)["rgba"] for feed in feeds]
    # a wait long enough that the four callers' frames are certain to meet in one batch
    batcher = BatchingEngine(engine, max_batch=24, max_wait_s=0.5)
    try:
        together = _together(batcher, feeds)
        assert batcher.batches < batcher.calls == 4  # they did share batches
        for own, shared in zip(alone, together, strict=True):
            assert shared["rgba"].shape == own.shape
            assert float(np.abs(shared["rgba"] - own).max()) <= 1e-6
    finally:
        batcher.close()


def test_the_render_stage_sends_the_same_bytes_through_the_batcher():
    engine = create_engine(RENDERER, threads=1)
    batcher = BatchingEngine(engine, max_batch=12)
    identities = {"ada": 0, "bo": 1}

    def chunk(seed: int) -> MediaChunk:
        rng = np.random.default_rng(seed)
        avatars = [AvatarChunk(name, "speak", "neutral", 0, 5) for name in identities]
        for avatar in avatars:
            avatar.controls = rng.random((5, 4, 256, 256)).astype(np.float32)
        return MediaChunk(0, 5, avatars, [])

    try:
        alone, shared = [chunk(seed) for seed in range(3)], [chunk(seed) for seed in range(3)]
        for item in alone:
            Render(engine, identities).process(item)
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(Render(batcher, identities).process, shared))
        for own, batched in zip(alone, shared, strict=True):
            for a, b in zip(own.avatars, batched.avatars, strict=True):
                assert a.rgba.tobytes() == b.rgba.tobytes()
    finally:
        batcher.close()


def test_batches_never_exceed_max_batch_and_keep_each_callers_rows():
    gate = threading.Event()
    engine = _Doubling(gate=gate)
    batcher = BatchingEngine(engine, max_batch=4)
    feeds = [{"x": np.full((rows, 3), index, np.float32)} for index, rows in enumerate((3, 1, 2, 2, 5))]
    try:
        with ThreadPoolExecutor(len(feeds)) as pool:
            futures = [pool.submit(batcher.run, feed) for feed in feeds]
            gate.set()
            results = [future.result(5) for future in futures]
        for feed, result in zip(feeds, results, strict=True):
            np.testing.assert_array_equal(result["y"], feed["x"] * 2)
        assert sum(engine.sizes) == 13
        assert max(engine.sizes) <= 5  # only the call of 5 rows, alone, is over max_batch
        assert all(size <= 4 for size in engine.sizes if size != 5)
    finally:
        batcher.close()


def test_a_failing_batch_raises_the_engines_own_error_in_every_caller():
    gate = threading.Event()
    error = ValueError("renderer: input 'control' axis 2 must be 256")
    batcher = BatchingEngine(_Doubling(fail=error, gate=gate), max_batch=16)
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(batcher.run, {"x": np.ones((2, 3), np.float32)}) for _ in range(3)]
            gate.set()
            for future in futures:
                with pytest.raises(ValueError, match="axis 2 must be 256"):
                    future.result(5)
        # and the batcher goes on: the next call runs (and fails the same way, as the engine does)
        with pytest.raises(ValueError, match="axis 2 must be 256"):
            batcher.run({"x": np.ones((1, 3), np.float32)})
    finally:
        batcher.close()


def test_an_engine_unavailable_reaches_every_caller_as_it_is():
    batcher = BatchingEngine(_Doubling(fail=EngineUnavailable("triton at 127.0.0.1:1 is unreachable")))
    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(batcher.run, {"x": np.ones((1, 3), np.float32)}) for _ in range(2)]:
                with pytest.raises(EngineUnavailable, match="unreachable"):
                    future.result(5)
    finally:
        batcher.close()


def test_a_callers_bad_input_is_refused_before_it_joins_a_batch():
    batcher = BatchingEngine(_Doubling())
    try:
        with pytest.raises(ValueError, match="must be float32"):
            batcher.run({"x": np.ones((1, 3), np.float64)})
    finally:
        batcher.close()


def test_closing_stops_the_dispatcher_and_refuses_calls_waiting_or_new():
    gate = threading.Event()
    engine = _Doubling(gate=gate)
    batcher = BatchingEngine(engine, max_batch=1)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.run, {"x": np.ones((1, 3), np.float32)})
        assert engine.entered.wait(5)  # the first call is in the engine, held at the gate
        second = pool.submit(batcher.run, {"x": np.ones((1, 3), np.float32)})
        while len(batcher._waiting) < 1:  # the second queued behind it
            threading.Event().wait(0.01)
        closer = threading.Thread(target=batcher.close)
        closer.start()
        gate.set()
        closer.join(5)
        np.testing.assert_array_equal(first.result(5)["y"], np.full((1, 3), 2.0))  # the batch in hand finishes
        with pytest.raises(EngineUnavailable, match="stopped"):
            second.result(5)
    assert not batcher._thread.is_alive()
    with pytest.raises(EngineUnavailable, match="stopped"):
        batcher.run({"x": np.ones((1, 3), np.float32)})


def test_models_batch_the_renderer_when_the_config_says_so_and_close_it():
    from eai_avatar.runtime.pipeline import Models

    config = replace(RuntimeConfig(threads=1), batching=BatchingConfig(renderer=True, max_batch=8))
    models = Models(Bundle(default_bundle_path()), config)
    assert isinstance(models.renderer, BatchingEngine) and models.renderer.max_batch == 8
    models.close()
    assert models.renderer.closed and not models.renderer._thread.is_alive()
    assert not isinstance(Models(Bundle(default_bundle_path()), RuntimeConfig(threads=1)).renderer, BatchingEngine)


def test_the_batching_config_comes_from_a_file_and_the_environment(tmp_path):
    path = tmp_path / "runtime.toml"
    path.write_text("[batching]\nrenderer = true\nmax_batch = 24\nmax_wait_ms = 2\n")
    config = RuntimeConfig.load(path, env={})
    assert config.batching == BatchingConfig(True, 24, 2.0)
    assert RuntimeConfig.load(env={"EAI_AVATAR_BATCH_RENDERER": "1"}).batching.renderer
    with pytest.raises(ValueError, match="max_batch"):
        RuntimeConfig.from_dict({"batching": {"max_batch": 0}})
