"""`eai-avatar eval crhmg --model DIR --data DIR`: CRHMG against a static mask and independent noise."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train crhmg`")
    parser.add_argument("--data", type=Path, required=True, help="the dataset whose test split to use")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--identity-frames",
        type=int,
        default=15_000,
        help="frames of each character's identity stream (default 15,000: 10 minutes; 0: skip)",
    )
    parser.add_argument("--strip", type=Path, help="also write a PNG strip of generated masks (2 seeds x speak/listen)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.crhmg.evaluate import evaluate_crhmg, mask_strip, to_markdown
    from eai_avatar.export.crhmg.train import load_crhmg

    model = load_crhmg(args.model)
    if args.identity_frames < 0:
        raise ValueError(f"--identity-frames must be 0 (skip) or more, got {args.identity_frames}")
    report = evaluate_crhmg(model, args.data, args.split, args.seed, identity_frames=args.identity_frames)
    sys.stdout.write((json.dumps(report) if args.json else to_markdown(report)) + "\n")
    if args.strip:
        from PIL import Image

        args.strip.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask_strip(model, args.data, args.split)).save(args.strip)
        sys.stderr.write(f"wrote {args.strip}\n")
    return 0
