"""The renderer batcher behind the real gRPC service: three sessions' turns at once send the pixels they send
without it (their frames met in shared batches), and the batcher stops with the server."""

import asyncio
from dataclasses import replace

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import BatchingConfig
from eai_avatar.runtime.engines.batching import BatchingEngine
from eai_avatar.runtime.pipeline import Models
from eai_avatar.v1 import common_pb2, session_pb2
from tests.contract.conftest import Stream, create, of, running

RAW_FRAMES = session_pb2.OutputOptions(pacing=session_pb2.PACING_AS_FAST_AS_POSSIBLE, include_images=True,
                                       image_encoding=common_pb2.IMAGE_ENCODING_RAW_RGBA, width=64,
                                       height=64)  # fmt: skip
LINES = (("ada", "Hello, Bo. It is good to see you again."), ("bo", "You dropped it, didn't you? Tell me!"),
         ("ada", "Only once, and it still works, I promise."))  # fmt: skip


async def _frames(models, db):
    """Three sessions, one turn each, all at once: each session's frames as (avatar, index, pixels)."""
    async with running(models, db) as (stub, *_):

        async def one(seed: int, speaker: str, text: str):
            session_id = await create(stub, output=RAW_FRAMES, seed=seed)
            stream = await Stream(stub, session_id).attach()
            await stream.line(speaker, text)
            await stream.until("turn_ended")
            return [(f.avatar, f.index, f.image) for f in of(stream.events, "frame")]

        return await asyncio.gather(*(one(20 + i, *line) for i, line in enumerate(LINES)))


def test_sessions_rendered_in_shared_batches_send_the_pixels_they_send_alone(models, tmp_path):
    config = replace(models.config, batching=BatchingConfig(renderer=True, max_batch=24, max_wait_ms=5))
    batched = Models(Bundle(default_bundle_path()), config)
    batcher = batched.renderer
    assert isinstance(batcher, BatchingEngine)
    alone = asyncio.run(_frames(models, tmp_path / "alone.db"))
    together = asyncio.run(_frames(batched, tmp_path / "batched.db"))
    batched.close()  # as `eai-avatar serve` does once its server has stopped
    for own, shared in zip(alone, together, strict=True):
        assert len(own) == len(shared) > 20
        assert own == shared
    assert batcher.batches < batcher.calls  # frames of different sessions did meet in one batch
    assert batcher.closed and not batcher._thread.is_alive()
