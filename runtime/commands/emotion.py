"""`eai-avatar emotion [--json] TEXT... | -`: the label, confidence and distribution of each utterance."""

from __future__ import annotations

import argparse
import json
import sys

from eai_avatar.vocabulary import EMOTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="utterances; '-' reads one per line from stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--head", help="a trained emotion head (.npz); default: the shipped one")


def read_utterances(texts: list[str]) -> list[str]:
    if texts == ["-"]:
        lines = [line.rstrip("\n") for line in sys.stdin]
        utterances = [line for line in lines if line.strip()]
        if not utterances:
            raise ValueError("stdin held no utterances (one per line)")
        return utterances
    if "-" in texts:
        raise ValueError("'-' (read stdin) cannot be mixed with utterances on the command line")
    return texts


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.emotion import EmotionRecognizer

    utterances = read_utterances(args.texts)
    recognizer = EmotionRecognizer(head=args.head)
    for text, estimate in zip(utterances, recognizer.recognize_batch(utterances), strict=True):
        distribution = dict(zip(EMOTIONS, (round(p, 4) for p in estimate.distribution), strict=True))
        if args.json:
            record = {"text": text, "emotion": estimate.label, "confidence": round(estimate.confidence, 4)}
            sys.stdout.write(json.dumps(record | {"distribution": distribution}) + "\n")
        else:
            ranked = sorted(distribution.items(), key=lambda kv: -kv[1])[:3]
            others = ", ".join(f"{label} {p:.2f}" for label, p in ranked[1:])
            sys.stdout.write(f"{estimate.label:<9} {estimate.confidence:.2f}  {text}   ({others})\n")
    return 0
