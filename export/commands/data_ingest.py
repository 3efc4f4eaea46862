"""`eai-avatar data ingest VIDEO --out DIR`: a user's video of a character, in the studio's dataset format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eai_avatar.vocabulary import EMOTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="a video file with one face (MP4, MOV, WebM, ...)")
    parser.add_argument("--out", type=Path, required=True, help="an empty folder for the one-clip dataset")
    parser.add_argument("--identity", default="custom", help="the character's name (default: custom)")
    parser.add_argument("--role", choices=("speak", "listen"), default="speak", help="what the character does")
    parser.add_argument("--emotion", choices=EMOTIONS, default="neutral", help="the emotion shown (default neutral)")
    parser.add_argument("--text", default="", help="a transcript of the speech, if known")
    parser.add_argument("--image-size", type=int, default=256, choices=(64, 128, 256, 512))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.studio.ingest import ingest_video

    manifest = ingest_video(
        args.video, args.out, args.identity, args.role, args.emotion, args.text, args.image_size, tqdm
    )
    stats = manifest["stats"]
    sys.stdout.write(
        f"wrote {args.out}: {stats['frames']} frames at 25 fps, face tracked in {100 * stats['tracked_fraction']:.0f}% "
        f"of them\n"
    )
    return 0
