"""`eai-avatar eval ingest`: how well video ingestion recovers the blendshapes and poses that made a video."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--characters", nargs="+", help="studio characters to render (default: all)")
    parser.add_argument("--frames", type=int, default=100, help="frames per round trip (default 100)")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from eai_avatar.export.studio.characters import CHARACTERS
    from eai_avatar.export.studio.ingest_eval import CHECKED_SHAPES, POSE_NAMES, round_trip

    if args.frames < 10:
        raise ValueError(f"--frames must be at least 10, got {args.frames}")
    reports = [round_trip(name, args.frames) for name in (args.characters or list(CHARACTERS))]
    if args.json:
        sys.stdout.write(json.dumps(reports) + "\n")
        return 0

    def mean(section, name, key):
        return np.mean([r[section][name][key] for r in reports])

    lines = [f"Ingestion round trip over {len(reports)} characters x {args.frames} frames (H.264 MP4, 256x256):", "",
             "| recovered | correlation | mean abs. error |", "|---|---|---|"]  # fmt: skip
    lines += [
        f"| {n} | {mean('blendshapes', n, 'correlation'):.3f} | {mean('blendshapes', n, 'mae'):.3f} |"
        for n in CHECKED_SHAPES
    ]
    lines += [f"| {n} | {mean('pose', n, 'correlation'):.3f} | {mean('pose', n, 'mae'):.4f} |" for n in POSE_NAMES]
    lines.append(f"| head mask IoU | {np.mean([r['mask_iou'] for r in reports]):.3f} | |")
    lines.append(f"| frames with a face | {np.mean([r['tracked_fraction'] for r in reports]):.3f} | |")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
