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

# The client pulls in grpc and numpy (about 0.2 s): it loads on first use, so `import eai_avatar` and the CLI stay
# instant. `from eai_avatar import AvatarClient` works as usual.
_LAZY = {
    name: "eai_avatar.client"
    for name in ("AvatarClient", "AsyncAvatarClient", "AvatarError", "AuthenticationError", "save_mp4")
}
__all__ += list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'eai_avatar' has no attribute {name!r}")
