"""Fit the emotion head: multinomial logistic regression (W, b of eq. 8) on sentence embeddings of the
project's own labelled corpus (`export.data.emotion_corpus`), with the L2 strength chosen on a validation
split. Plain numpy: a linear head needs no torch, so this trains on any install in seconds."""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.emotion.embedder import SentenceEmbedder
from eai_avatar.runtime.emotion.head import EmotionHead, ModalityWeights
from eai_avatar.vocabulary import EMOTIONS, emotion_index

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Command-line level settings of `eai-avatar train emotion`."""

    per_emotion: int = 600  # corpus lines per emotion
    seed: int = 0
    val_fraction: float = 0.1
    l2_grid: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    steps: int = 400
    learning_rate: float = 0.05


def fit_block(
    features: np.ndarray,
    labels: np.ndarray,
    feature_name: str,
    l2: float = 1e-3,
    steps: int = 400,
    learning_rate: float = 0.05,
) -> ModalityWeights:
    """Full-batch Adam on the mean cross-entropy + l2 * ||W||^2 over standardized features."""
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels) or len(features) == 0:
        raise ValueError(f"need (n, d) features and n labels, got {features.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= len(EMOTIONS):
        raise ValueError(f"labels must be class ids 0..{len(EMOTIONS) - 1}")
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = (features - mean) / scale
    n, d = x.shape
    k = len(EMOTIONS)
    onehot = np.eye(k)[labels]
    params = [np.zeros((d, k)), np.zeros(k)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    beta1, beta2 = 0.9, 0.999
    for step in range(1, steps + 1):
        logits = x @ params[0] + params[1]
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = (probs - onehot) / n
        grads = [x.T @ error + 2 * l2 * params[0], error.sum(axis=0)]
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad**2
            param -= learning_rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    return ModalityWeights(
        feature_name=feature_name,
        weight=params[0].astype(np.float32),
        bias=params[1].astype(np.float32),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
    )


def accuracy(block: ModalityWeights, features: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(block.logits(features), axis=1) == labels))


def drop_near_duplicates(
    texts: list[str], labels: list[str], held_out: list[str], cutoff: float = 0.8
) -> tuple[list[str], list[str], list[str]]:
    """Decontamination: remove every training line whose difflib similarity to a held-out line (lower-cased)
    reaches `cutoff`, so the held-out evaluation measures lines training never saw, nor close copies of them.
    Returns the kept texts and labels, and the dropped texts."""
    lowered = [t.lower() for t in texts]
    dropped = set()
    for line in held_out:
        for match in difflib.get_close_matches(line.lower(), lowered, n=len(lowered), cutoff=cutoff):
            dropped.add(match)
    kept = [(t, label) for t, low, label in zip(texts, lowered, labels, strict=True) if low not in dropped]
    removed = [t for t, low in zip(texts, lowered, strict=True) if low in dropped]
    return [t for t, _ in kept], [label for _, label in kept], removed


def split_indices(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified train / validation split."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == k))
        cut = max(1, int(round(len(members) * val_fraction)))
        val.extend(members[:cut])
        train.extend(members[cut:])
    return np.sort(np.array(train)), np.sort(np.array(val))


def train_head(
    texts: list[str],
    labels: list[str],
    config: TrainConfig,
    embedder: SentenceEmbedder | None = None,
    progress=None,
) -> tuple[EmotionHead, dict]:
    """Embed, pick L2 on validation, refit on everything; returns the head and a report."""
    started = time.perf_counter()
    embedder = embedder or SentenceEmbedder()
    y = np.array([emotion_index(label) for label in labels])
    batches = range(0, len(texts), 64)
    if progress is not None:
        batches = progress(batches, desc="embedding corpus", unit="batch")
    features = np.concatenate([embedder.embed(texts[i : i + 64]) for i in batches])
    train, val = split_indices(y, config.val_fraction, config.seed)
    scores = {}
    for l2 in config.l2_grid:
        block = fit_block(features[train], y[train], embedder.feature_name, l2, config.steps, config.learning_rate)
        scores[l2] = accuracy(block, features[val], y[val])
        logger.info("l2 %.0e: validation accuracy %.3f", l2, scores[l2])
    best_l2 = max(scores, key=lambda l2: (scores[l2], l2))  # ties go to the stronger regularizer
    block = fit_block(features, y, embedder.feature_name, best_l2, config.steps, config.learning_rate)
    report = {
        "corpus": "eai_avatar.export.data.emotion_corpus (project-written phrase banks, Apache-2.0)",
        "per_emotion": config.per_emotion,
        "seed": config.seed,
        "lines": len(texts),
        "validation_lines": int(len(val)),
        "validation_accuracy": scores[best_l2],
        "l2": best_l2,
        "l2_grid_accuracy": {f"{k:g}": v for k, v in scores.items()},
        "steps": config.steps,
        "feature": embedder.feature_name,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    return EmotionHead({"text": block}, EMOTIONS, report), report
