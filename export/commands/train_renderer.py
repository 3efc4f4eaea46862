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
    parser.add_argument("--max-minutes", type=float, help="stop and save a resumable checkpoint after this long")
    parser.add_argument("--teacher-samples", type=Path, help="distil from these teacher renders (made by "
                        "`train renderer-teacher --samples`) as well as learning from ground truth")  # fmt: skip
    parser.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint exists")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.renderer.train import preset, train_student

    config = preset(args.preset, steps=args.steps, threads=args.threads)
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise ValueError(f"--max-minutes must be positive, got {args.max_minutes}")
    report = train_student(args.data, args.out, config, progress=tqdm, resume=not args.no_resume,
                           teacher_samples=args.teacher_samples,
                           max_seconds=args.max_minutes * 60 if args.max_minutes else None)  # fmt: skip
    last = report["history"][-1] if report["history"] else {}
    summary = {key: report[key] for key in ("steps_done", "steps", "seconds_this_run")}
    sys.stdout.write(json.dumps({**summary, "last": last}) + "\n")
    sys.stdout.write(f"saved {args.out / 'renderer.safetensors'}\n")
    return 0
