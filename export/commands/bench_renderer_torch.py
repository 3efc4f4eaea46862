"""`eai-avatar bench renderer-torch --model DIR --device cuda`: the student's throughput in PyTorch.

The GPU figure where TensorRT is not at hand: fp32 or fp16 (half weights and inputs), optionally replayed as a
CUDA graph so launch overhead does not hide the GPU's speed at batch 1. Frames per second at each batch size.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, required=True, help="a folder made by `eai-avatar train renderer`")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (repeatable; default 1 and 32)")
    parser.add_argument("--precision", choices=("fp32", "fp16"), action="append", help="default: both")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--cuda-graph", action="store_true", help="replay each call as a CUDA graph")
    parser.add_argument("--json", action="store_true")


def _time(call, repeats: int, synchronize) -> list[float]:
    for _ in range(5):
        call()
    synchronize()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        synchronize()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from eai_avatar.export.renderer.train import load_student
    from eai_avatar.runtime.commands.benchmarking import report

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("no CUDA device is visible; use --device cpu")
    device = torch.device(args.device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    for precision in args.precision or ["fp32", "fp16"]:
        dtype = torch.float16 if precision == "fp16" else torch.float32
        model = load_student(args.model).to(device=device, dtype=dtype)
        for batch in args.batch or [1, 32]:
            control = torch.rand((batch, 4, args.size, args.size), device=device, dtype=dtype)
            identity = torch.zeros(batch, dtype=torch.long, device=device)
            with torch.inference_mode():
                call = partial(model, control, identity)
                if args.cuda_graph and device.type == "cuda":
                    call()
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        model(control, identity)
                    call = graph.replay
                times = _time(call, args.repeats, synchronize)
            median = float(np.median(times))
            rows.append({"precision": precision, "batch": batch, "ms_median": round(median, 3),
                         "ms_p95": round(float(np.percentile(times, 95)), 3),
                         "frames_per_second": round(1000 * batch / median, 1)})  # fmt: skip
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {"benchmark": "renderer-torch", "device": name, "size": args.size, "cuda_graph": args.cuda_graph,
              "torch": torch.__version__, "rows": rows}  # fmt: skip
    text = "\n".join(f"renderer {args.size}px, PyTorch {r['precision']} on {name}, batch {r['batch']}: "
                     f"{r['frames_per_second']} frames/s (median {r['ms_median']} ms)" for r in rows)  # fmt: skip
    return report(result, args.json, text)
