"""The turn pipeline: typed frames (frames.py) and one conversation's processors on a bundle (conversation.py)."""

from eai_avatar.runtime.pipeline.conversation import CHUNK_FRAMES, Conversation, Models
from eai_avatar.runtime.pipeline.frames import AudioPiece, AvatarFrame, TurnPlan, TurnRequest, TurnSummary

__all__ = ["CHUNK_FRAMES", "AudioPiece", "AvatarFrame", "Conversation", "Models", "TurnPlan", "TurnRequest",
           "TurnSummary"]  # fmt: skip
