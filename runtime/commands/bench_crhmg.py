"""`eai-avatar bench crhmg --onnx DIR`: CPU latency of CRHMG for one second (25 frames) of masks."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report, time_calls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--onnx", type=Path, required=True, help="folder with crhmg_encoder.onnx and crhmg_generator.onnx"
    )
    parser.add_argument("--frames", type=int, default=25, help="frames per call (default 25, one second)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.engines import create_engine

    if not 2 <= args.frames <= 64:
        raise ValueError(f"--frames must be 2..64 (the model's window), got {args.frames}")
    encoder = create_engine(args.onnx / "crhmg_encoder.onnx", threads=args.threads)
    generator = create_engine(args.onnx / "crhmg_generator.onnx", threads=args.threads)
    size = next(s.shape[-1] for s in encoder.input_spec() if s.name == "masks")
    latent_dim = next(s.shape[-1] for s in generator.input_spec() if s.name == "z1")
    rng = np.random.default_rng(0)
    mask = (rng.random((1, 1, size, size)) > 0.5).astype(np.float32)
    z1 = encoder.run({"masks": mask})["latent"]
    feed = {"z1": z1, "eta": rng.standard_normal((1, args.frames, latent_dim)).astype(np.float32),
            "eps": np.ones(1, np.float32)}  # fmt: skip

    def one_second():
        generator.run(feed)
        encoder.run({"masks": mask})  # the next window's condition

    result = {"benchmark": "crhmg", "frames": args.frames, "threads": args.threads, "machine": machine(),
              **time_calls(one_second, args.repeats)}  # fmt: skip
    return report(
        result,
        args.json,
        f"CRHMG, {args.frames} frames, onnxruntime CPU, {args.threads} threads: median {result['ms_median']} ms, "
        f"p95 {result['ms_p95']} ms ({result['machine']})",
    )
