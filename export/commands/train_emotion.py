"""`eai-avatar train emotion`: build the labelled corpus, fit the head, save it (.npz)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from eai_avatar.export.emotion.evaluate import HELDOUT_PATH
from eai_avatar.runtime.emotion.head import DEFAULT_HEAD_PATH

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_HEAD_PATH, help=f"head file (default: {DEFAULT_HEAD_PATH})")
    parser.add_argument("--per-emotion", type=int, default=600, help="corpus lines per emotion (default 600)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps per fit (default 400)")
    parser.add_argument("--dump-corpus", type=Path, help="also write the labelled corpus here as TSV")
    parser.add_argument(
        "--exclude",
        type=Path,
        default=HELDOUT_PATH,
        help="drop corpus lines that near-duplicate this labelled TSV's lines (default: the held-out set)",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.data.emotion_corpus import build_corpus
    from eai_avatar.export.emotion.evaluate import load_labelled_tsv
    from eai_avatar.export.emotion.train import TrainConfig, drop_near_duplicates, train_head

    config = TrainConfig(per_emotion=args.per_emotion, seed=args.seed, steps=args.steps)
    pairs = build_corpus(config.per_emotion, config.seed)
    texts, labels = [t for t, _ in pairs], [label for _, label in pairs]
    removed = []
    if args.exclude:
        texts, labels, removed = drop_near_duplicates(texts, labels, load_labelled_tsv(args.exclude)[0])
        logger.info("dropped %d corpus lines that near-duplicate %s", len(removed), args.exclude)
    pairs = list(zip(texts, labels, strict=True))
    if args.dump_corpus:
        args.dump_corpus.parent.mkdir(parents=True, exist_ok=True)
        with open(args.dump_corpus, "w", encoding="utf-8") as handle:
            handle.write("emotion\ttext\n" + "".join(f"{label}\t{text}\n" for text, label in pairs))
    head, report = train_head(texts, labels, config, progress=tqdm)
    report["decontamination"] = {"excluded_near": str(args.exclude) if args.exclude else None, "dropped": len(removed)}
    head.metadata = report
    head.save(args.out)
    sys.stdout.write(json.dumps(report, indent=2) + f"\nsaved {args.out}\n")
    return 0
