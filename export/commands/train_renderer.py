"""`eai-avatar train renderer --data DIR --out DIR`: the one-step student that turns mask + E_t into frames."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a dataset made by `eai-avatar data synth`")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the trained model")
    parser.add_argument("--preset", default="quick", help="quick (2 CPU cores), full (GPU) or tiny (tests)")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--threads", type=int, help="override the preset's CPU threads")
    parser.add_argument("--teacher-samples", type=Path, help="distil from these teacher renders (made by "
                        "`train renderer-teacher --samples`) as well as learning from ground truth")  # fmt: skip
    parser.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint exists")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.renderer.train import preset, train_student

    config = preset(args.preset, steps=args.steps, threads=args.threads)
    report = train_student(args.data, args.out, config, progress=tqdm, resume=not args.no_resume,
                           teacher_samples=args.teacher_samples)  # fmt: skip
    last = report["history"][-1] if report["history"] else {}
    sys.stdout.write(json.dumps({"steps": report["steps"], "seconds_this_run": report["seconds_this_run"],
                                 "last": last}) + "\n")  # fmt: skip
    sys.stdout.write(f"saved {args.out / 'renderer.safetensors'}\n")
    return 0
