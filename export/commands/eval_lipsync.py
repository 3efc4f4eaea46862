"""`eai-avatar eval lipsync --speech DIR [--bundle DIR | --onnx FILE]`: Audio2Exp's lip sync per voice, with the
viseme path as a reference row (metrics: export/audio2exp/lipsync.py). Needs no torch."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speech", type=Path, required=True, metavar="DIR",
                        help="a folder of <id>.wav utterances, each with an <id>.json of its text, voice and phone "
                             "timings with visemes")  # fmt: skip
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--bundle", type=Path, metavar="DIR", help="an engine bundle (default: the shipped one)")
    model.add_argument("--onnx", type=Path, metavar="FILE", help="an exported audio2exp.onnx instead of a bundle")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime CPU threads (default 2)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write the Markdown report here")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a Markdown table)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.audio2exp.lipsync import evaluate_lipsync, speech_folder_wavs, to_markdown
    from eai_avatar.export.commands.reporting import write_report
    from eai_avatar.runtime.models.audio2exp import engine_expression_generator, load_expression_generator

    speech_folder_wavs(args.speech)  # a bad folder fails before the model loads
    if args.onnx is not None:
        if not args.onnx.exists():
            raise FileNotFoundError(f"no such ONNX file: {args.onnx}")
        generator = load_expression_generator(args.onnx, threads=args.threads)
        label = f"ONNX {args.onnx}"
    else:
        from eai_avatar.runtime.bundle import Bundle, default_bundle_path

        bundle = Bundle(args.bundle or default_bundle_path())
        generator = engine_expression_generator(bundle.engine("audio2exp", threads=args.threads))
        label = f"bundle {args.bundle}" if args.bundle else "the shipped bundle"
    report = evaluate_lipsync(args.speech, generator, label, progress=tqdm)
    markdown = to_markdown(report)
    write_report(report, markdown, args.markdown, args.json)
    return 0
