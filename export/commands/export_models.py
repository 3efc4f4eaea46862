"""`eai-avatar export --out DIR --crhmg DIR --audio2exp DIR --renderer DIR`: trained models to an engine bundle.

With all three trained models the result is a verified bundle (manifest.json; runtime/bundle.py). With only some,
their ONNX files alone are written (for a model's own development), checked against PyTorch all the same.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eai_avatar.export.bundle import MODELS, PARITY_BOUND


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder for the bundle (new or empty)")
    parser.add_argument("--crhmg", type=Path, help="a folder made by `eai-avatar train crhmg`")
    parser.add_argument("--audio2exp", type=Path, help="a folder made by `eai-avatar train audio2exp`")
    parser.add_argument("--renderer", type=Path, help="a folder made by `eai-avatar train renderer`")
    models = ", ".join(MODELS)
    parser.add_argument("--fp16", nargs="*", metavar="MODEL", help=f"compute in fp16 (onnxruntime's conversion): "
                        f"these models of {models} (none named: all)")  # fmt: skip
    parser.add_argument("--fp16-weights", nargs="*", metavar="MODEL", help="store weights in fp16, compute in fp32 "
                        "(half the file, CPU speed kept): these models (none named: all)")  # fmt: skip
    parser.add_argument("--int8", nargs="*", metavar="MODEL", help="quantize to int8 these models (none named: the "
                        "renderer), calibrated on --data")  # fmt: skip
    parser.add_argument("--data", type=Path, help="dataset (or frame pack) whose frames calibrate int8")
    parser.add_argument("--triton-repo", type=Path, help="also write an NVIDIA Triton model repository here")
    parser.add_argument("--tensorrt", action="store_true", help="also build TensorRT fp16 engines (NVIDIA GPU and "
                        "the tensorrt package needed) into DIR/tensorrt/<sm_arch>/")  # fmt: skip


def _loose(args: argparse.Namespace) -> dict:
    """Only some models: their ONNX files, parity-checked, without a manifest."""
    report = {}
    if args.crhmg:
        from eai_avatar.export.crhmg.export import export_crhmg, parity
        from eai_avatar.export.crhmg.train import load_crhmg

        model = load_crhmg(args.crhmg)
        paths = export_crhmg(model, args.out)
        report["crhmg"] = {"files": [str(p) for p in paths.values()], "parity_fp32": max(parity(model, paths).values())}
    if args.audio2exp:
        from eai_avatar.export.audio2exp.export import export_audio2exp, parity
        from eai_avatar.export.audio2exp.train import load_audio2exp

        model = load_audio2exp(args.audio2exp)
        path = export_audio2exp(model, args.out)
        report["audio2exp"] = {"files": [str(path)], "parity_fp32": max(parity(model, path), parity(model, path, 1, 1))}
    if args.renderer:
        from eai_avatar.export.renderer.export import export_student, parity
        from eai_avatar.export.renderer.train import load_student

        model = load_student(args.renderer)
        path = export_student(model, args.out)
        report["renderer"] = {
            "files": [str(path)],
            "parity_fp32": max(parity(model, path), parity(model, path, batch=1)),
        }
    for name, result in report.items():
        if result["parity_fp32"] > PARITY_BOUND:
            raise ValueError(f"{name}'s ONNX output differs from PyTorch by {result['parity_fp32']:.2e}, more than "
                             f"{PARITY_BOUND:g}")  # fmt: skip
    return report


def _precision(args: argparse.Namespace) -> dict[str, str]:
    """{model: precision} from --fp16 / --fp16-weights / --int8 (a flag without names means its default set)."""
    chosen: dict[str, str] = {}
    for flag, precision, default in (("fp16", "fp16", MODELS), ("fp16_weights", "fp16-weights", MODELS),
                                     ("int8", "int8", ("renderer",))):  # fmt: skip
        names = getattr(args, flag)
        for name in default if names == [] else names or ():
            if name in chosen:
                raise ValueError(f"{name} is asked for in both {chosen[name]} and {precision}")
            chosen[name] = precision
    return chosen


def run(args: argparse.Namespace) -> int:
    given = [name for name in ("crhmg", "audio2exp", "renderer") if getattr(args, name)]
    if not given:
        raise ValueError("name the trained models to export: --crhmg, --audio2exp and --renderer DIR (all three make "
                         "a bundle)")  # fmt: skip
    if len(given) < 3:
        if _precision(args) or args.triton_repo or args.tensorrt:
            raise ValueError("--fp16, --fp16-weights, --int8, --triton-repo and --tensorrt work on a whole bundle: "
                             "give all three of --crhmg, --audio2exp and --renderer")  # fmt: skip
        sys.stdout.write(json.dumps(_loose(args), indent=1) + "\n")
        return 0
    from tqdm import tqdm

    from eai_avatar.export.bundle import build_bundle

    precision = _precision(args)
    if "int8" in precision.values() and not args.data:
        raise ValueError("--int8 calibrates on real frames: give --data (a dataset or frame pack)")
    manifest = build_bundle(args.out, args.crhmg, args.audio2exp, args.renderer, precision, data=args.data,
                            progress=tqdm)  # fmt: skip
    summary = {name: m.export | {"bytes": m.bytes} for name, m in manifest.models.items()}
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    sys.stdout.write(json.dumps({"bundle": str(args.out), "models": summary, "identities": list(manifest.identities),
                                 "total_bytes": total}, indent=1) + "\n")  # fmt: skip
    if args.triton_repo:
        from eai_avatar.export.triton import write_triton_repository

        written = write_triton_repository(args.out, args.triton_repo)
        sys.stdout.write(f"wrote a Triton model repository with {', '.join(written)} to {args.triton_repo}\n")
    if args.tensorrt:
        from eai_avatar.export.tensorrt import build_engines

        folder = build_engines(args.out)
        sys.stdout.write(f"wrote TensorRT engines to {folder}\n")
    return 0
