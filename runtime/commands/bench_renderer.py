"""`eai-avatar bench renderer --onnx DIR`: frames per second of the one-step renderer on this CPU."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report, time_calls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", type=Path, required=True, help="renderer.onnx or the folder holding it")
    parser.add_argument("--batch", type=int, default=1, help="frames per call (2: both avatars of a conversation)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.engines import create_engine

    if not 1 <= args.batch <= 64:
        raise ValueError(f"--batch must be 1..64, got {args.batch}")
    path = args.onnx / "renderer.onnx" if args.onnx.is_dir() else args.onnx
    engine = create_engine(path, threads=args.threads)
    size = next(s.shape[-1] for s in engine.input_spec() if s.name == "control")
    rng = np.random.default_rng(0)
    feed = {"control": rng.random((args.batch, 4, size, size)).astype(np.float32),
            "identity": np.zeros(args.batch, np.int64)}  # fmt: skip
    timing = time_calls(lambda: engine.run(feed), args.repeats, warmup=3)
    fps = round(1000 * args.batch / timing["ms_median"], 1)
    precision = engine.metadata().get("precision", "fp32")
    result = {"benchmark": "renderer", "size": size, "batch": args.batch, "threads": args.threads,
              "precision": precision,
              "machine": machine(), "frames_per_second": fps, **timing}  # fmt: skip
    return report(
        result,
        args.json,
        f"renderer ({precision}), {size}x{size}, batch {args.batch}, onnxruntime CPU, {args.threads} threads: "
        f"{fps} frames/s "
        f"(median {timing['ms_median']} ms per call, p95 {timing['ms_p95']}) ({result['machine']})",
    )
