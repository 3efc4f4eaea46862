"""`eai-avatar eval emotion`: accuracy and confusion matrix on the held-out dialogue lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eai_avatar.export.emotion.evaluate import HELDOUT_PATH


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=HELDOUT_PATH, help="labelled TSV (default: the held-out set)")
    parser.add_argument("--head", type=Path, help="emotion head (.npz); default: the shipped one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.emotion.evaluate import evaluate, load_labelled_tsv, to_markdown
    from eai_avatar.runtime.emotion import EmotionRecognizer

    texts, labels = load_labelled_tsv(args.data)
    report = evaluate(EmotionRecognizer(head=args.head), texts, labels)
    report["data"] = str(args.data)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(to_markdown(report) + "\n")
    return 0
