"""One engine shared by every session of a process, whose calls are gathered into batches.

Each session's Render stage calls `run` from its own worker thread with its chunk's frames; a dispatcher thread
takes every call waiting when the engine comes free (up to `max_batch` rows, optionally waiting `max_wait_s` for
more), runs them as one batch on the wrapped engine and hands each caller its own rows back. Callers block as
they did on the engine itself, so the stages above see the same `Engine` interface and the same results.

Rows are independent in the models it batches (the renderer: every frame is drawn from its own control and
identity), so a row's output does not depend on what it was batched with, up to the backend's float rounding.

A failing batch raises its error in every caller that was in it (the error each would have got alone: the same
exception). Closing stops the dispatcher after the batch in hand; calls after that, or still waiting, get
`EngineUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future

import numpy as np

from eai_avatar.runtime.engines.base import Engine, TensorSpec
from eai_avatar.runtime.errors import EngineUnavailable

logger = logging.getLogger(__name__)


class _Call:
    """One caller's inputs, its row count and where its outputs go."""

    __slots__ = ("inputs", "rows", "result")

    def __init__(self, inputs: dict[str, np.ndarray], rows: int):
        self.inputs, self.rows = inputs, rows
        self.result: Future = Future()


class BatchingEngine(Engine):
    """Args:
    engine: the engine every call runs on (its first axis is the batch, in every input and output).
    max_batch: most rows per batch; a single call with more runs alone, as it would without the batcher.
    max_wait_s: how long the dispatcher waits after the first waiting call for others to join it (0: never; it
        takes whatever waits when the engine comes free, so a lone session pays nothing).
    name: the model's name in messages and the dispatcher thread's name.
    """

    name = "batching"

    def __init__(self, engine: Engine, max_batch: int = 12, max_wait_s: float = 0.0, name: str = "renderer"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        self.engine, self.max_batch, self.max_wait_s, self.model = engine, max_batch, max_wait_s, name
        self._waiting: deque[_Call] = deque()
        self._changed = threading.Condition()
        self._closed = False
        # How the batches came out, for benches and tests: calls and rows run, batches run.
        self.calls = self.rows = self.batches = 0
        self._thread = threading.Thread(target=self._dispatch, name=f"eai-avatar-batcher-{name}", daemon=True)
        self._thread.start()

    def input_spec(self) -> list[TensorSpec]:
        return self.engine.input_spec()

    def output_spec(self) -> list[TensorSpec]:
        return self.engine.output_spec()

    def metadata(self) -> dict[str, str]:
        return self.engine.metadata()

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The engine's outputs for `inputs`, computed in a batch with other callers' rows."""
        self.check_inputs(inputs)  # a caller's bad input is its own error, never its batch's
        rows = {len(value) for value in inputs.values()}
        if len(rows) != 1:
            raise ValueError(f"{self.model}: every input must have the same batch size, got {sorted(rows)}")
        call = _Call(inputs, rows.pop())
        with self._changed:
            if self._closed:
                raise EngineUnavailable(f"the {self.model} batcher has stopped (the server is stopping)")
            self._waiting.append(call)
            self._changed.notify_all()
        return call.result.result()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop after the batch in hand; calls still waiting get EngineUnavailable."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(timeout_s)

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ the dispatcher

    def _dispatch(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run_batch(batch)

    def _next_batch(self) -> list[_Call] | None:
        """The calls of the next batch (waiting up to max_wait_s for rows to fill it), or None once closed."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            if self._closed:
                stopped = EngineUnavailable(f"the {self.model} batcher has stopped (the server is stopping)")
                while self._waiting:
                    self._waiting.popleft().result.set_exception(stopped)
                return None
            deadline = time.monotonic() + self.max_wait_s
            while sum(call.rows for call in self._waiting) < self.max_batch and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            batch, rows = [self._waiting.popleft()], 0
            rows = batch[0].rows
            while self._waiting and rows + self._waiting[0].rows <= self.max_batch:
                rows += self._waiting[0].rows
                batch.append(self._waiting.popleft())
            return batch

    def _run_batch(self, batch: list[_Call]) -> None:
        try:
            if len(batch) == 1:
                outputs = [self.engine.run(batch[0].inputs)]
            else:
                joined = {name: np.concatenate([call.inputs[name] for call in batch]) for name in batch[0].inputs}
                together = self.engine.run(joined)
                edges = np.cumsum([0] + [call.rows for call in batch])
                outputs = [{name: value[edges[i] : edges[i + 1]] for name, value in together.items()}
                           for i in range(len(batch))]  # fmt: skip
        except Exception as exc:  # the engine's own error, whatever its type, is each caller's (as it was alone)
            for call in batch:
                call.result.set_exception(exc)
            return
        self.calls += len(batch)
        self.rows += sum(call.rows for call in batch)
        self.batches += 1
        for call, output in zip(batch, outputs, strict=True):
            call.result.set_result(output)
