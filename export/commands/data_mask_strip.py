"""`eai-avatar data mask-strip --out PNG`: each character's head over a minute of talking, CRHMG's free masks above the
runtime's (the character's own silhouette, posed), a frame every 5 s: whether a character keeps its hair shows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("docs/images/identity_strip.png"), help="PNG to write")
    parser.add_argument("--bundle", type=Path, help="engine bundle whose CRHMG to run (default: the one that ships)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each stream (default 60)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between the frames shown (default 5)")
    parser.add_argument("--seed", type=int, default=0)


def identity_strip(bundle: Path, seconds: float, every: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """(image uint8, row labels): per character, a row of free CRHMG masks and a row of the runtime's."""
    from eai_avatar.export.crhmg.identity import character_first_masks
    from eai_avatar.runtime.bundle import Bundle
    from eai_avatar.runtime.models.crhmg_onnx import load_head_mask_generator
    from eai_avatar.vocabulary import FPS

    loaded = Bundle(bundle)
    first_masks = character_first_masks(loaded.manifest.mask_size)
    frames, step = round(seconds * FPS), max(1, round(every * FPS))
    rows, labels = [], []
    for name, first in first_masks.items():
        new = "" if name in loaded.manifest.identities else " (new)"
        for keep in (False, True):
            generator = load_head_mask_generator(bundle)
            generator.keep_identity = keep
            masks = generator.next(generator.start(first), frames + 1, 1.0, np.random.default_rng(seed))
            rows.append(np.concatenate([np.pad(m, 1, constant_values=0.35) for m in masks[::step]], axis=1))
            labels.append(f"{name}{new}: {'own mask, posed' if keep else 'free CRHMG'}")
    strip = np.concatenate(rows, axis=0)
    return (np.clip(strip, 0, 1) * 255).astype(np.uint8), labels


def run(args: argparse.Namespace) -> int:
    from PIL import Image, ImageDraw

    from eai_avatar.runtime.bundle import default_bundle_path

    if args.seconds <= 0 or not 0 < args.every <= args.seconds:
        raise ValueError(f"--seconds must be positive and --every in (0, seconds], got {args.seconds}, {args.every}")
    strip, labels = identity_strip(args.bundle or default_bundle_path(), args.seconds, args.every, args.seed)
    scale, margin = 2, 150
    image = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    canvas = Image.new("L", (image.width + margin, image.height), 255)
    canvas.paste(image, (margin, 0))
    draw, row = ImageDraw.Draw(canvas), image.height // len(labels)
    for index, label in enumerate(labels):
        draw.text((4, index * row + row // 2 - 6), label, fill=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out)
    sys.stdout.write(f"wrote {args.out}: {len(labels) // 2} characters, a frame every {args.every:g} s of "
                     f"{args.seconds:g} s\n")  # fmt: skip
    return 0
