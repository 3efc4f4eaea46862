"""`eai-avatar data sheet --out PNG`: every character x the 8 emotions, plus a row of mouth shapes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("contact_sheet.png"), help="PNG to write")
    parser.add_argument("--size", type=int, default=128, help="pixels per cell, 32..512 (default 128)")


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from eai_avatar.export.studio.characters import render_contact_sheet

    if not 32 <= args.size <= 512:
        raise ValueError(f"--size must be 32..512 pixels, got {args.size}")
    sheet = render_contact_sheet(args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out)
    sys.stdout.write(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})\n")
    return 0
