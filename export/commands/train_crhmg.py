"""`eai-avatar train crhmg --data DIR --out DIR`: train the head-mask generator on the studio's mask sequences."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a dataset made by `eai-avatar data synth`")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the trained model")
    parser.add_argument("--preset", default="quick", help="quick (2 CPU cores, < 20 min), full (GPU) or tiny (tests)")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--threads", type=int, help="override the preset's CPU threads")
    parser.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint exists")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.crhmg.train import preset, train_crhmg

    config = preset(args.preset, steps=args.steps, seed=args.seed, threads=args.threads)
    report = train_crhmg(args.data, args.out, config, progress=tqdm, resume=not args.no_resume)
    last = report["history"][-1] if report["history"] else {}
    sys.stdout.write(
        json.dumps({"steps": report["steps"], "seconds_this_run": report["seconds_this_run"], "last": last}) + "\n"
    )
    sys.stdout.write(f"saved {args.out / 'crhmg.safetensors'}\n")
    return 0
