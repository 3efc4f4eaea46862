import numpy as np
import pytest

from eai_avatar.runtime.emotion import EmotionHead
from eai_avatar.runtime.emotion.head import ModalityWeights
from eai_avatar.vocabulary import EMOTIONS


def test_embeddings_are_unit_vectors_and_meaningful(embedder):
    vectors = embedder.embed(["I am thrilled, this is wonderful!", "This is fantastic, I'm so happy!", "Tax forms."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_batching_and_padding_do_not_change_an_embedding(embedder):
    short, long = "Hello.", "This is a much longer utterance with many more word pieces than the first one."
    alone = embedder.embed([short])
    padded = embedder.embed([long, short])[1]  # padded to the long one's length in the same batch
    assert np.allclose(alone[0], padded, atol=1e-5)
    with pytest.raises(ValueError, match="sequence of utterances"):
        embedder.embed("one string")


def _random_head(rng, **extra):
    d, k = 384, len(EMOTIONS)
    text = ModalityWeights("all-MiniLM-L6-v2/int8-onnx/mean-pool/l2", rng.normal(size=(d, k)).astype(np.float32),
                           np.zeros(k, np.float32), np.zeros(d, np.float32), np.ones(d, np.float32))  # fmt: skip
    return EmotionHead({"text": text, **extra}, EMOTIONS, {"note": "test"})


def test_head_save_load_round_trip(tmp_path):
    head = _random_head(np.random.default_rng(0))
    path = tmp_path / "head.npz"
    head.save(path)
    back = EmotionHead.load(path)
    assert back.metadata == {"note": "test"} and back.labels == EMOTIONS
    features = np.random.default_rng(1).normal(size=(4, 384)).astype(np.float32)
    assert np.array_equal(back.logits({"text": features}), head.logits({"text": features}))


def test_bad_heads_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="train one"):
        EmotionHead.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an emotion head"):
        EmotionHead.load(junk)
    head = _random_head(np.random.default_rng(0))
    with pytest.raises(ValueError, match="not the emotion set"):
        EmotionHead(head.modalities, tuple(reversed(EMOTIONS)))
    with pytest.raises(ValueError, match="needs a 'text' block"):
        EmotionHead({}, EMOTIONS)
    with pytest.raises(ValueError, match="no block for \\['video'\\]"):
        head.logits({"text": np.zeros((1, 384)), "video": np.zeros((1, 3))})
    with pytest.raises(ValueError, match=r"features must be \(n, 384\)"):
        head.logits({"text": np.zeros((1, 100))})
