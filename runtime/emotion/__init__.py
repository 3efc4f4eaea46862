"""The emotion recognizer C of the paper (eqs. 8-9): psi = argmax softmax(W^T f + b), P = max softmax.

f is a sentence embedding of the utterance (all-MiniLM-L6-v2, int8 ONNX, no torch); other modalities (a
human's voice, later video) fuse in through `ModalityEncoder`s whose features extend f.
"""

from eai_avatar.runtime.emotion.embedder import SentenceEmbedder
from eai_avatar.runtime.emotion.head import DEFAULT_HEAD_PATH, EmotionHead
from eai_avatar.runtime.emotion.prosody import ProsodyEncoder, prosody_features
from eai_avatar.runtime.emotion.recognizer import EmotionRecognizer, ModalityEncoder

__all__ = [
    "DEFAULT_HEAD_PATH",
    "EmotionHead",
    "EmotionRecognizer",
    "ModalityEncoder",
    "ProsodyEncoder",
    "SentenceEmbedder",
    "prosody_features",
]
