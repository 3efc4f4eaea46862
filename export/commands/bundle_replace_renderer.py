"""`eai-avatar bundle replace-renderer --model DIR [--bundle DIR]`: a retrained renderer student into a bundle, the
other models left as they are. Replace the shipped bundle's only when a measured figure improves: every replacement
stays in git history."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train renderer`")
    parser.add_argument("--bundle", type=Path, help="the bundle to change (default: the one that ships)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "fp16-weights", "int8"),
                        help="how the model is stored (default fp32, as shipped)")  # fmt: skip
    parser.add_argument("--data", type=Path, help="a studio dataset to calibrate int8 on")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.bundle import replace_renderer
    from eai_avatar.runtime.bundle import default_bundle_path

    bundle = args.bundle or default_bundle_path()
    manifest = replace_renderer(bundle, args.model, args.precision, args.data)
    entry = manifest.models["renderer"]
    sys.stdout.write(json.dumps({"bundle": str(bundle), "renderer": {"bytes": entry.bytes, **entry.export}}) + "\n")
    return 0
