"""`eai-avatar eval asr`: the speech recognizer's word error rate on held-out lines, in voices it was not tuned on.

Each of the 24 held-out lines (`runtime/asr/sentences.py`) is spoken by every voice (four espeak-ng speakers,
hibari's heart when installed, the project's Piper joe when it exists) and transcribed; WER is reported per voice
and overall. Lives in the runtime: it needs no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_recognizer_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `eval asr` and `bench asr` share: which recognizer, and the offline one's settings."""
    from eai_avatar.runtime.asr.base import DEFAULT_RECOGNIZER, RECOGNIZER_NAMES

    parser.add_argument("--recognizer", choices=RECOGNIZER_NAMES, default=DEFAULT_RECOGNIZER,
                        help="whisper (offline, the default) or openai (set $EAI_AVATAR_ASR_BASE_URL)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="whisper's CPU threads (default 2)")
    parser.add_argument("--beam-size", type=int, default=1, help="whisper's beam size (default 1, greedy)")
    parser.add_argument("--model-dir", type=Path, help="a CTranslate2 Whisper folder (default: the bundled tiny.en)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a Markdown table")


def recognizer_from_args(args: argparse.Namespace, **options):
    """The recognizer the shared options name; whisper's settings apply to whisper only."""
    from eai_avatar.runtime.asr.base import create_recognizer

    if args.recognizer == "whisper":
        options |= {"threads": args.threads, "beam_size": args.beam_size}
        if args.model_dir is not None:
            options["model_dir"] = args.model_dir
    return create_recognizer(args.recognizer, **options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recognizer_arguments(parser)
    parser.add_argument("--voices", help="comma-separated backend:voice list (default: every voice installed, "
                        "e.g. espeak:en-us,hibari:heart)")  # fmt: skip
    parser.add_argument("--sentences", type=Path, help="a text file, one line per sentence (default: the held-out set)")
    parser.add_argument("--limit", type=int, help="only the first N sentences")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.asr.evaluate import check_voice, default_voices, evaluate, to_markdown
    from eai_avatar.runtime.asr.sentences import HELDOUT_SENTENCES

    if args.sentences is not None:
        sentences = [line.strip() for line in args.sentences.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        sentences = list(HELDOUT_SENTENCES)
    if args.limit is not None:
        if args.limit < 1:
            raise ValueError(f"--limit must be at least 1, got {args.limit}")
        sentences = sentences[: args.limit]
    voices = [v.strip() for v in args.voices.split(",") if v.strip()] if args.voices else default_voices()
    for voice in voices:  # before the model loads
        check_voice(voice)
    recognizer = recognizer_from_args(args)
    try:
        report = evaluate(recognizer, sentences, voices)
    finally:
        recognizer.close()
    sys.stdout.write(json.dumps(report) + "\n" if args.json else to_markdown(report))
    return 0
