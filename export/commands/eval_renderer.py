"""`eai-avatar eval renderer --model DIR --data DIR`: the student's SSIM, PSNR and flicker on held-out clips."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train renderer`")
    parser.add_argument("--data", type=Path, required=True, help="the dataset whose test split to use")
    parser.add_argument("--split", default="test")
    parser.add_argument("--png", type=Path, help="also write mask | E_t | ground truth | student for 4 test frames")
    parser.add_argument("--video", type=Path, help="also write a test clip as MP4: control | ground truth | student")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a table)")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.renderer.evaluate import evaluate_student, side_by_side
    from eai_avatar.export.renderer.train import load_student

    model = load_student(args.model)
    report = evaluate_student(model, args.data, args.split)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        s, g = report["student"], report["ground_truth"]
        sys.stdout.write(
            f"renderer on {report['frames']} {args.split} frames at {report['size'][1]}x{report['size'][0]}:\n"
            "| model | SSIM | PSNR (dB) | frame-to-frame change (truth: "
            f"{g['frame_change']:.4f}) |\n|---|---|---|---|\n"
            f"| student | {s['ssim']:.4f} | {s['psnr_db']:.2f} | {s['frame_change']:.4f} |\n"
            "| teacher | not measured | not measured | not measured |\n"
        )
    if args.png:
        from PIL import Image

        args.png.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(side_by_side(model, args.data, args.split)).save(args.png)
        sys.stderr.write(f"wrote {args.png}\n")
    if args.video:
        from eai_avatar.export.renderer.evaluate import clip_video

        sys.stderr.write(f"wrote {args.video}: {clip_video(model, args.data, args.video, args.split)}\n")
    return 0
