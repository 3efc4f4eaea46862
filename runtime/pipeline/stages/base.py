"""What a stage is: one step of a turn's work, over the typed frames of `pipeline/frames.py`."""

from __future__ import annotations

from abc import ABC, abstractmethod

from eai_avatar.runtime.pipeline.frames import MediaChunk, TurnPlan


class Stage(ABC):
    """A media stage: reads some fields of a chunk's avatars and fills others (each stage's docstring names them).

    A stage holds the state it carries from chunk to chunk for one session (a head-mask stream, a listening loop);
    the models it runs are shared by every session and stateless per call.
    """

    name: str = "stage"

    def begin_turn(self, plan: TurnPlan) -> None:  # noqa: B027 - most stages need no per-turn setup
        """A turn's media follows; called once before its first chunk."""

    @abstractmethod
    def process(self, chunk: MediaChunk) -> None:
        """Fill this stage's fields of `chunk`."""
