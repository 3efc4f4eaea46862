"""The turn pipeline: typed frames (frames.py), the stages that fill them (stages/), the shared models
(models.py), one conversation's tree, Q, persistence and stage state (conversation.py), and the typed events a
session's stream is made of (events.py), which every output adapts."""

from eai_avatar.runtime.pipeline.conversation import Conversation
from eai_avatar.runtime.pipeline.frames import (
    AudioPiece,
    AvatarChunk,
    EncodedFrame,
    MediaChunk,
    OutputSpec,
    TurnPlan,
    TurnRequest,
    TurnSummary,
    Utterance,
)
from eai_avatar.runtime.pipeline.models import Models

__all__ = ["AudioPiece", "AvatarChunk", "Conversation", "EncodedFrame", "MediaChunk", "Models", "OutputSpec",
           "TurnPlan", "TurnRequest", "TurnSummary", "Utterance"]  # fmt: skip
