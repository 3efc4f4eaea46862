"""`eai-avatar export --out DIR [--crhmg DIR] [--audio2exp DIR]`: trained models to ONNX, checked against PyTorch."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PARITY_BOUND = 1e-4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the ONNX files")
    parser.add_argument("--crhmg", type=Path, help="a folder made by `eai-avatar train crhmg`")
    parser.add_argument("--audio2exp", type=Path, help="a folder made by `eai-avatar train audio2exp`")
    parser.add_argument("--renderer", type=Path, help="a folder made by `eai-avatar train renderer`")


def _export_crhmg(folder: Path, out: Path) -> dict:
    from eai_avatar.export.crhmg.export import export_crhmg, parity
    from eai_avatar.export.crhmg.train import load_crhmg

    model = load_crhmg(folder)
    paths = export_crhmg(model, out)
    return {"files": [str(p) for p in paths.values()], "max_abs_error_fp32": max(parity(model, paths).values())}


def _export_audio2exp(folder: Path, out: Path) -> dict:
    from eai_avatar.export.audio2exp.export import export_audio2exp, parity
    from eai_avatar.export.audio2exp.leed import build_leed
    from eai_avatar.export.audio2exp.train import load_audio2exp
    from eai_avatar.export.studio.characters import CHARACTERS
    from eai_avatar.runtime.models.audio2exp import load_expression_generator

    model = load_audio2exp(folder)
    path = export_audio2exp(model, out)
    # LEED is made by the exported model itself, as the runtime will run it.
    generator = load_expression_generator(path)
    leed = out / "leed.npz"
    build_leed(dict.fromkeys(CHARACTERS, generator)).save(leed)
    return {"files": [str(path), str(leed)],
            "max_abs_error_fp32": max(parity(model, path), parity(model, path, 1, 1))}  # fmt: skip


def _export_renderer(folder: Path, out: Path) -> dict:
    from eai_avatar.export.renderer.export import export_student, parity
    from eai_avatar.export.renderer.train import load_student

    model = load_student(folder)
    path = export_student(model, out)
    return {"files": [str(path)], "max_abs_error_fp32": max(parity(model, path), parity(model, path, batch=1))}


def run(args: argparse.Namespace) -> int:
    jobs = {"crhmg": (args.crhmg, _export_crhmg), "audio2exp": (args.audio2exp, _export_audio2exp),
            "renderer": (args.renderer, _export_renderer)}  # fmt: skip
    jobs = {name: job for name, job in jobs.items() if job[0]}
    if not jobs:
        raise ValueError("name at least one trained model to export (--crhmg, --audio2exp, --renderer DIR)")
    report = {name: export(folder, args.out) for name, (folder, export) in jobs.items()}
    sys.stdout.write(json.dumps(report, indent=1) + "\n")
    for name, result in report.items():
        if result["max_abs_error_fp32"] > PARITY_BOUND:
            raise ValueError(f"{name}'s ONNX output differs from PyTorch by {result['max_abs_error_fp32']:.2e}, "
                             f"more than {PARITY_BOUND:g}")  # fmt: skip
    return 0
