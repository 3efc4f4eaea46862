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
    parser.add_argument("--interactive", action="store_true", help="you are the first character: type lines, or "
                        "the path of a WAV file of a line, one per line (Ctrl-D ends); the second listens and "
                        "answers")  # fmt: skip
    parser.add_argument("--microphone", type=float, metavar="SECONDS", default=0.0,
                        help="with --interactive: talk into the computer's microphone for SECONDS instead (needs "
                        "sounddevice); the server hears where each line ends, writes it down and answers")  # fmt: skip
    parser.add_argument("--bundle", type=Path, help="engine bundle (default: the one that ships)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.runtime.demo import run_demo

    lines, show = None, _window()
    if args.interactive:
        if sys.stdin.isatty():
            where = "a window and " if show else ""
            sys.stderr.write(f"You are {args.characters[0]}: type a line and press Enter, {args.characters[1]} "
                             f"listens and answers ({where}{args.out}). Ctrl-D ends.\n")  # fmt: skip
        lines = iter(sys.stdin.readline, "")
    if args.microphone and not args.interactive:
        raise ValueError("--microphone goes with --interactive")
    report = run_demo(args.out, args.turns, args.dialogue, args.seed, tuple(args.characters), lines, args.bundle,
                      progress=None if args.interactive else tqdm, on_frame=show,
                      microphone_s=args.microphone)  # fmt: skip
    for caption in report.captions:
        feelings = ", ".join(f"{name} {label}" for name, label in caption.emotions.items())
        sys.stdout.write(f"{caption.round}. {caption.speaker}: {caption.text}  [{feelings}]\n")
    sys.stdout.write(f"wrote {report.path}: {report.seconds:.1f} s, {report.frames} frames\n")
    return 0


def _window():
    """A function that shows frames in an OpenCV window where a display and opencv exist, else None."""
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.name == "nt"):
        return None
    try:
        import cv2
    except ImportError:
        return None

    def show(image) -> None:
        cv2.imshow("EAI-Avatar", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.waitKey(1)

    return show
