"""The shared vocabulary: the names and constants that the wire, the runtime and the training side agree on.

Everything here is plain Python so any client can import it without numpy, torch or a model.
"""

from __future__ import annotations

#: MEAD's 8 emotions, in MEAD's (alphabetical) order, as EAT and the paper use them. The index of an
#: emotion in this tuple is its class id everywhere: classifier outputs, embeddings, LEED keys.
EMOTIONS: tuple[str, ...] = (
    "angry",
    "contempt",
    "disgusted",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprised",
)
NEUTRAL = "neutral"
EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

#: ARKit's 52 blendshape names in Apple's ARFaceAnchor order (the order Live Link Face writes), the
#: engines' native rig space. Models may drive a subset; on the wire they travel by name.
ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)  # fmt: skip
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}

#: The lip-sync carriers: the shapes speech moves (anchors.md).
LIP_SYNC_BLENDSHAPES: tuple[str, ...] = tuple(
    name for name in ARKIT_BLENDSHAPES if name.startswith(("jaw", "mouth")) or name in ("tongueOut", "cheekPuff")
)

#: Video frame rate of every model and stream, frames per second.
FPS = 25
#: Sample rate of the models' audio input and of streamed audio, Hz (PCM16 mono on the wire).
SAMPLE_RATE = 16_000
#: Audio samples per video frame at the model rates (640).
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
#: Default rendered image size (width, height) in pixels.
IMAGE_SIZE = (256, 256)
#: Version of the wire contract (proto package eai_avatar.v1).
CONTRACT_VERSION = "v1"
#: Longest utterance the contract takes (UserText, ScriptedLine, transcripts), in characters.
MAX_TEXT_CHARS = 2000
#: Sample rates the contract accepts from clients, Hz; the server resamples to SAMPLE_RATE.
MIN_CLIENT_SAMPLE_RATE, MAX_CLIENT_SAMPLE_RATE = 8_000, 48_000


def emotion_index(name: str) -> int:
    """Class id of an emotion name; raises ValueError naming the bad value and the valid set."""
    try:
        return EMOTION_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown emotion {name!r}; expected one of {', '.join(EMOTIONS)}") from None


def blendshape_index(name: str) -> int:
    """Index of an ARKit blendshape name; raises ValueError naming the bad value."""
    try:
        return BLENDSHAPE_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown ARKit blendshape {name!r} (names are case-sensitive, e.g. 'jawOpen')") from None
