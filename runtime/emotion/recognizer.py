"""EmotionRecognizer: the paper's C. Text always; other modalities where the head has a block for them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from eai_avatar.runtime.emotion.embedder import SentenceEmbedder
from eai_avatar.runtime.emotion.head import DEFAULT_HEAD_PATH, EmotionHead
from eai_avatar.runtime.emotion.prosody import ProsodyEncoder
from eai_avatar.runtime.itt.tree import EmotionEstimate
from eai_avatar.vocabulary import MAX_TEXT_CHARS


class ModalityEncoder(Protocol):
    """An extra input to C (a voice, a face): named features that a head block of the same name reads.

    To add one: implement this, collect (features, label) pairs, train a block named `name` beside the
    text block (`export.emotion.train.fit_block`), and pass the inputs to `recognize(..., name=inputs)`.
    """

    name: str
    feature_name: str
    dim: int

    def encode(self, **inputs) -> np.ndarray: ...


def check_text(text: object) -> str:
    """The utterance, or ValueError: C needs non-empty text of at most MAX_TEXT_CHARS characters."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"emotion recognition needs a non-empty utterance, got {text!r}")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"an utterance may have at most {MAX_TEXT_CHARS} characters, got {len(text)}")
    return text


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class EmotionRecognizer:
    """psi = argmax softmax(W^T f + b), P = max softmax (eqs. 8-9).

    Args:
        head: the trained head; default: the one shipped with the runtime.
        embedder: the text feature extractor; default: MiniLM int8.
        encoders: the extra modalities it can take (default: audio prosody).
    """

    def __init__(
        self,
        head: EmotionHead | str | Path | None = None,
        embedder: SentenceEmbedder | None = None,
        encoders: Sequence[ModalityEncoder] = (ProsodyEncoder(),),
    ):
        self.head = head if isinstance(head, EmotionHead) else EmotionHead.load(head or DEFAULT_HEAD_PATH)
        self.embedder = embedder or SentenceEmbedder()
        self.encoders = {encoder.name: encoder for encoder in encoders}
        text_block = self.head.modalities["text"]
        if text_block.feature_name != self.embedder.feature_name:
            raise ValueError(
                f"the head was trained on {text_block.feature_name!r} features, the embedder makes "
                f"{self.embedder.feature_name!r}"
            )
        for name, block in self.head.modalities.items():
            encoder = self.encoders.get(name)
            if name != "text" and encoder is not None and encoder.feature_name != block.feature_name:
                raise ValueError(f"head block {name!r} expects {block.feature_name!r}, not {encoder.feature_name!r}")

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 8) softmax over EMOTIONS for text alone, batched."""
        texts = [check_text(t) for t in texts]
        if not texts:
            return np.zeros((0, len(self.head.labels)), dtype=np.float32)
        return _softmax(self.head.logits({"text": self.embedder.embed(texts)}))

    def recognize_batch(self, texts: Sequence[str]) -> list[EmotionEstimate]:
        return [EmotionEstimate.from_probabilities(p) for p in self.probabilities(texts)]

    def recognize(self, text: str, **modalities: dict) -> EmotionEstimate:
        """C(text) or, with e.g. `audio={"audio": pcm, "sample_rate": 16000}`, C(text, audio)."""
        features = {"text": self.embedder.embed([check_text(text)])}
        for name, inputs in modalities.items():
            if name not in self.encoders:
                raise ValueError(f"no encoder for modality {name!r}; known: {sorted(self.encoders)}")
            if not isinstance(inputs, dict):
                raise ValueError(f"modality {name!r} takes a dict of its inputs, e.g. {{'audio': ..., ...}}")
            features[name] = self.encoders[name].encode(**inputs)[None, :]
        return EmotionEstimate.from_probabilities(_softmax(self.head.logits(features))[0])
