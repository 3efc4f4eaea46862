"""`eai-avatar data frames --data DIR --out FILE.npz`: a split's renderer examples packed into one file.

A pack carries the renderer's training and test frames to a machine without the dataset (a lent GPU, say);
every renderer command that takes --data reads a pack like a dataset folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _split(text: str) -> tuple[str, int, int | None]:
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts[1:]) or int(parts[1]) < 1:
        raise argparse.ArgumentTypeError(f"expected SPLIT:EVERY[:LIMIT] such as train:2 or test:1:400, got {text!r}")
    return parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a dataset made by `eai-avatar data synth`")
    parser.add_argument("--out", type=Path, required=True, help="the pack to write (.npz)")
    parser.add_argument(
        "--split", type=_split, action="append", required=True, dest="splits",
        help="SPLIT:EVERY[:LIMIT], repeatable: every n-th frame of the split, at most LIMIT",
    )  # fmt: skip
    parser.add_argument("--identity", help="only this identity's frames")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.renderer.data import pack_frames

    counts = pack_frames(args.data, args.out, {name: (every, limit) for name, every, limit in args.splits},
                         identity=args.identity)  # fmt: skip
    megabytes = args.out.stat().st_size / 2**20
    packed = ", ".join(f"{split} {count}" for split, count in counts.items())
    sys.stdout.write(f"wrote {args.out} ({megabytes:.1f} MB): {packed} frames\n")
    return 0
