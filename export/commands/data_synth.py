"""`eai-avatar data synth --out DIR`: the synthetic dyadic dialogue dataset every model trains on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="an empty folder for the dataset")
    parser.add_argument("--identities", type=int, default=4, help="characters to use (2..5, default 4)")
    parser.add_argument("--clips", type=int, default=200, help="clips to make (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=256, choices=(64, 128, 256, 512))
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.studio.dataset import SynthConfig, synthesize_dataset

    config = SynthConfig(args.out, args.identities, args.clips, args.seed, args.image_size, args.workers)
    manifest = synthesize_dataset(config, progress=tqdm)
    stats = manifest["stats"]
    splits = ", ".join(f"{name} {len(ids)}" for name, ids in manifest["splits"].items())
    sys.stdout.write(
        f"wrote {stats['clips']} clips ({stats['frames']} frames; {splits}) to {args.out} in {stats['seconds']} s: "
        f"{stats['clips_per_minute']} clips per minute\n"
        f"test-only voices: {', '.join(manifest['held_out']['test_only_voices'])}\n"
    )
    return 0
