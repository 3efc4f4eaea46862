"""`eai-avatar demo`: two avatars hold a conversation, written to an MP4 with their voices and captions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--turns", type=int, default=6, help="turns of the conversation (default 6)")
    parser.add_argument("--out", type=Path, default=Path("conversation.mp4"), help="the MP4 to write")
    parser.add_argument("--dialogue", default="scripted", choices=("scripted", "openai", "local"),
                        help="who writes the lines (default: scripted, offline)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1, help="every random choice (dialogue, head motion)")
    parser.add_argument("--characters", nargs=2, default=("ada", "bo"), metavar=("A", "B"))
    parser.add_argument("--interactive", action="store_true", help="you are the first character: type lines (one "
                        "per line, end with Ctrl-D); the second listens and answers")  # fmt: skip
    parser.add_argument("--bundle", type=Path, help="engine bundle (default: the one that ships)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.runtime.demo import run_demo

    lines = None
    if args.interactive:
        if sys.stdin.isatty():
            sys.stderr.write(f"You are {args.characters[0]}. Type your lines, then Ctrl-D. (No display here: the "
                             f"conversation goes to {args.out}.)\n")  # fmt: skip
        lines = sys.stdin.read().splitlines()
    report = run_demo(args.out, args.turns, args.dialogue, args.seed, tuple(args.characters), lines, args.bundle,
                      progress=tqdm)  # fmt: skip
    for caption in report.captions:
        feelings = ", ".join(f"{name} {label}" for name, label in caption.emotions.items())
        sys.stdout.write(f"{caption.round}. {caption.speaker}: {caption.text}  [{feelings}]\n")
    sys.stdout.write(f"wrote {report.path}: {report.seconds:.1f} s, {report.frames} frames\n")
    return 0
