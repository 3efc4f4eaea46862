"""Held-out evaluation of the emotion recognizer: top-1 accuracy, per-class precision / recall and the
confusion matrix on hand-written dialogue lines that training never sees (`data/emotion/heldout.tsv`)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from eai_avatar.runtime.emotion.recognizer import EmotionRecognizer
from eai_avatar.vocabulary import EMOTIONS, emotion_index

HELDOUT_PATH = Path(__file__).resolve().parent.parent / "data" / "emotion" / "heldout.tsv"


def load_labelled_tsv(path: str | Path = HELDOUT_PATH) -> tuple[list[str], list[str]]:
    """(texts, labels) from a TSV with the header `emotion<TAB>text`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"labelled set not found: {path}")
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != ["emotion", "text"]:
            raise ValueError(f"{path}: the first line must be 'emotion<TAB>text', got {header}")
        for line_number, row in enumerate(reader, start=2):
            if len(row) != 2:
                raise ValueError(f"{path}:{line_number}: expected 2 tab-separated fields, got {len(row)}")
            emotion_index(row[0])
            labels.append(row[0])
            texts.append(row[1])
    return texts, labels


def evaluate(recognizer: EmotionRecognizer, texts: list[str], labels: list[str]) -> dict:
    started = time.perf_counter()
    probabilities = recognizer.probabilities(texts)
    predicted = np.argmax(probabilities, axis=1)
    confidence = probabilities.max(axis=1)
    truth = np.array([emotion_index(label) for label in labels])
    k = len(EMOTIONS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    per_class = {}
    for i, emotion in enumerate(EMOTIONS):
        tp = confusion[i, i]
        per_class[emotion] = {
            "precision": float(tp / max(confusion[:, i].sum(), 1)),
            "recall": float(tp / max(confusion[i].sum(), 1)),
            "support": int(confusion[i].sum()),
        }
    return {
        "lines": len(texts),
        "accuracy": float(np.mean(predicted == truth)),
        "mean_confidence": float(confidence.mean()),
        "expected_calibration_error": expected_calibration_error(confidence, predicted == truth),
        "per_class": per_class,
        "confusion": {"labels": list(EMOTIONS), "rows_true_columns_predicted": confusion.tolist()},
        "seconds": round(time.perf_counter() - started, 2),
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by the bins' sizes. P (eq. 9)
    weighs history in Q, so how well it tracks real accuracy matters."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def to_markdown(report: dict) -> str:
    lines = [
        f"Top-1 accuracy **{report['accuracy']:.3f}** on {report['lines']} held-out lines; mean confidence "
        f"{report['mean_confidence']:.3f}, expected calibration error {report['expected_calibration_error']:.3f}.",
        "",
        "| true \\ predicted | " + " | ".join(EMOTIONS) + " | recall |",
        "|---" * (len(EMOTIONS) + 2) + "|",
    ]
    for emotion, row in zip(EMOTIONS, report["confusion"]["rows_true_columns_predicted"], strict=True):
        recall = report["per_class"][emotion]["recall"]
        lines.append(f"| {emotion} | " + " | ".join(str(v) for v in row) + f" | {recall:.2f} |")
    precision = " | ".join(f"{report['per_class'][e]['precision']:.2f}" for e in EMOTIONS)
    lines.append(f"| precision | {precision} | |")
    return "\n".join(lines)
