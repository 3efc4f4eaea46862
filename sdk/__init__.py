"""EAI-Avatar: streaming emotion-aware interactive avatars.

This package is the client SDK and the vocabulary every part shares. It stays light (numpy, grpcio,
protobuf) and never imports torch; the server lives in `eai_avatar.runtime`, the training side in
`eai_avatar.export`. The wire contract's generated messages are in `eai_avatar.v1`.
"""

from eai_avatar.version import __version__
from eai_avatar.vocabulary import (
    ARKIT_BLENDSHAPES,
    CONTRACT_VERSION,
    EMOTIONS,
    FPS,
    IMAGE_SIZE,
    NEUTRAL,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    blendshape_index,
    emotion_index,
)

__all__ = [
    "__version__",
    "ARKIT_BLENDSHAPES",
    "CONTRACT_VERSION",
    "EMOTIONS",
    "FPS",
    "IMAGE_SIZE",
    "NEUTRAL",
    "SAMPLE_RATE",
    "SAMPLES_PER_FRAME",
    "blendshape_index",
    "emotion_index",
]
