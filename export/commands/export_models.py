"""`eai-avatar export --out DIR --crhmg MODEL_DIR`: trained models to ONNX, each checked against PyTorch."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PARITY_BOUND = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the ONNX files")
    parser.add_argument("--crhmg", type=Path, help="a folder made by `eai-avatar train crhmg`")


def run(args: argparse.Namespace) -> int:
    if not args.crhmg:
        raise ValueError("name at least one trained model to export (--crhmg DIR)")
    from eai_avatar.export.crhmg.export import export_crhmg, parity
    from eai_avatar.export.crhmg.train import load_crhmg

    model = load_crhmg(args.crhmg)
    paths = export_crhmg(model, args.out)
    errors = parity(model, paths)
    report = {"crhmg": {"files": {k: str(v) for k, v in paths.items()}, "max_abs_error_fp32": errors}}
    sys.stdout.write(json.dumps(report, indent=1) + "\n")
    worst = max(errors.values())
    if worst > PARITY_BOUND:
        raise ValueError(f"CRHMG's ONNX output differs from PyTorch by {worst:.2e}, more than {PARITY_BOUND:g}")
    return 0
