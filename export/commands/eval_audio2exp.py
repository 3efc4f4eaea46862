"""`eai-avatar eval audio2exp --model DIR --data DIR`: mouth accuracy, closed mouth in pauses, visible emotion."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train audio2exp`")
    parser.add_argument("--data", type=Path, required=True, help="the dataset whose test split to use")
    parser.add_argument("--split", default="test")
    parser.add_argument("--unseen-family", type=Path, metavar="DIR",
                        help="also re-speak the test sentences with espeak-ng voices of other languages (a voice "
                             "family training never used) into DIR, and report the drop")  # fmt: skip
    parser.add_argument("--video", type=Path, metavar="MP4",
                        help="also write the rig driven by Audio2Exp | ground truth, held-out sentence")  # fmt: skip
    parser.add_argument("--mouth-only", action="store_true",
                        help="mouth metrics of one split alone, e.g. `--split train` of an ingested video")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.audio2exp.evaluate import evaluate_audio2exp, mouth_metrics, to_markdown
    from eai_avatar.export.audio2exp.train import load_audio2exp
    from eai_avatar.export.audio2exp.voice_family import DEFAULT_FAMILY, respeak_test_clips

    model = load_audio2exp(args.model)
    if args.mouth_only:
        sys.stdout.write(
            json.dumps(mouth_metrics(model, args.data, args.split), indent=None if args.json else 1) + "\n"
        )
        return 0
    report = evaluate_audio2exp(model, args.data, args.split)
    family = None
    if args.unseen_family:
        respeak_test_clips(args.data, args.unseen_family, progress=tqdm)
        family = {
            "family": "espeak-ng " + "/".join(DEFAULT_FAMILY),
            "metrics": mouth_metrics(model, args.unseen_family),
        }
        report["unseen_family"] = family
    sys.stdout.write((json.dumps(report) if args.json else to_markdown(report, family)) + "\n")
    if args.video:
        from eai_avatar.export.audio2exp.evaluate import comparison_video

        clip = comparison_video(model, args.data, args.video, args.split)
        sys.stderr.write(f"wrote {args.video}: {clip}\n")
    return 0
