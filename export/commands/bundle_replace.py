"""`eai-avatar bundle replace-audio2exp --model DIR [--bundle DIR]`: a retrained Audio2Exp (and its LEED) into a
bundle, the other models left as they are. Replace the shipped bundle's only when a measured figure improves: every
replacement stays in git history."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train audio2exp`")
    parser.add_argument("--bundle", type=Path, help="the bundle to change (default: the one that ships)")
    parser.add_argument("--precision", default="fp16-weights", choices=("fp32", "fp16", "fp16-weights"),
                        help="how the model is stored (default fp16-weights, as shipped)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.bundle import replace_audio2exp
    from eai_avatar.runtime.bundle import default_bundle_path

    bundle = args.bundle or default_bundle_path()
    manifest = replace_audio2exp(bundle, args.model, args.precision)
    entry = manifest.models["audio2exp"]
    sys.stdout.write(json.dumps({"bundle": str(bundle), "audio2exp": {"bytes": entry.bytes, **entry.export}}) + "\n")
    return 0
