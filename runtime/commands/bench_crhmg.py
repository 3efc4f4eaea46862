"""`eai-avatar bench crhmg --onnx DIR`: CPU time of CRHMG per second (25 frames) of a head-mask stream."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report, time_calls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--onnx", type=Path, required=True, help="folder with crhmg_encoder.onnx and crhmg_generator.onnx"
    )
    parser.add_argument("--seconds", type=int, default=10, help="stream length per timed call (default 10 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.models.crhmg_onnx import load_head_mask_generator
    from eai_avatar.vocabulary import FPS

    if not 1 <= args.seconds <= 600:
        raise ValueError(f"--seconds must lie in [1, 600], got {args.seconds}")
    generator = load_head_mask_generator(args.onnx, threads=args.threads)
    rng = np.random.default_rng(0)
    from eai_avatar.runtime.engines import create_engine

    size = next(s.shape[-1] for s in create_engine(args.onnx / "crhmg_encoder.onnx").input_spec() if s.name == "masks")
    first = np.zeros((size, size), np.float32)
    first[size // 4 : 3 * size // 4, size // 3 : 2 * size // 3] = 1.0  # a head-sized block
    frames = args.seconds * FPS

    def stream():  # a fresh stream each time: windows, crossfades and re-encodings, as the runtime runs them
        generator.next(generator.start(first), frames, 1.0, rng)

    timing = time_calls(stream, args.repeats)
    per_second = {k: round(v / args.seconds, 2) for k, v in timing.items()}
    result = {"benchmark": "crhmg", "seconds_of_masks": args.seconds, "window": generator.window,
              "overlap": generator.overlap, "threads": args.threads, "machine": machine(),
              "ms_per_second_median": per_second["ms_median"], "ms_per_second_p95": per_second["ms_p95"]}  # fmt: skip
    return report(
        result,
        args.json,
        f"CRHMG, {args.seconds} s streams (window {generator.window}, overlap {generator.overlap}), onnxruntime CPU, "
        f"{args.threads} threads: {per_second['ms_median']} ms per second of masks (p95 {per_second['ms_p95']}) "
        f"({result['machine']})",
    )
