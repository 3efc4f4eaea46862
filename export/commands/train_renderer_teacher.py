"""`eai-avatar train renderer-teacher --data DIR --out DIR [--identity NAME]`: the ControlNet diffusion teacher."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a dataset folder or a frame pack (.npz)")
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the trained teacher")
    parser.add_argument("--identity", help="train on this identity alone, as the paper does (default: all)")
    parser.add_argument("--preset", default="quick", help="quick (2 CPU cores, 64px), gpu (128px) or tiny (tests)")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--threads", type=int, help="override the preset's CPU threads")
    parser.add_argument("--device", help="override the preset's device (cpu, cuda)")
    parser.add_argument("--max-minutes", type=float, help="stop and save when this much time has passed")
    parser.add_argument("--samples", type=Path, help="then write the teacher's renders of the training controls "
                        "here (.npz), for `train renderer --teacher-samples`")  # fmt: skip
    parser.add_argument("--samples-every", type=int, default=10, help="every n-th training frame for --samples")
    parser.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint exists")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.renderer.teacher import load_teacher, preset, train_teacher, write_teacher_samples

    seconds = args.max_minutes * 60 if args.max_minutes else None
    config = preset(args.preset, steps=args.steps, threads=args.threads, device=args.device, max_seconds=seconds)
    report = train_teacher(args.data, args.out, config, args.identity, progress=tqdm, resume=not args.no_resume)
    summary = {key: report[key] for key in ("steps_done", "steps", "seconds_this_run", "train_frames", "parameters",
                                            "device_name")}  # fmt: skip
    sys.stdout.write(json.dumps({**summary, "last": report["history"][-1] if report["history"] else {}}) + "\n")
    sys.stdout.write(f"saved {args.out / 'renderer_teacher.safetensors'}\n")
    if args.samples:
        teacher, names = load_teacher(args.out, config.device)
        count = write_teacher_samples(teacher, names, args.data, args.samples, args.samples_every,
                                      device=config.device, progress=tqdm)  # fmt: skip
        sys.stdout.write(f"wrote {count} teacher samples to {args.samples}\n")
    return 0
