"""`eai-avatar triton serve`: a bundle's models from an NVIDIA Triton Inference Server on this machine, for
runtimes whose engine is "triton" (`--engine renderer=triton --triton-url HOST:PORT`, or `[engines]` and `[triton]`
in the runtime config).

The server is PyTriton's tritonserver running the bundle's ONNX files on onnxruntime (CPU), in a venv of its own
that the first run makes (PyTriton needs numpy<2; see runtime/triton/environment.py). For GPUs, serve the
repository that `eai-avatar export --triton-repo DIR` writes with NVIDIA's Triton container instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, help="engine bundle folder (default: the one that ships)")
    parser.add_argument("--host", default="127.0.0.1", help="gRPC interface (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=8001, help="gRPC port (default 8001, Triton's)")
    parser.add_argument("--models", help="serve only these of the bundle's models, comma-separated (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads per model instance (default 2)")
    parser.add_argument("--instances", type=int, default=1, help="renderer instances, each with its own session")
    parser.add_argument("--max-batch", type=int, default=32, help="the renderer's largest dynamic batch (default 32)")
    parser.add_argument("--venv", type=Path, help="the PyTriton venv, made here if missing (default "
                        "$EAI_AVATAR_PYTRITON_VENV, else ~/.cache/eai-avatar/pytriton-venv)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.triton.environment import SERVER_SCRIPT, ensure_venv

    bundle = Bundle(args.bundle or default_bundle_path())  # a damaged bundle is refused before anything is served
    models = [name for name in (args.models or "").split(",") if name]
    unknown = sorted(set(models) - set(bundle.models))
    if unknown:
        raise ValueError(f"the bundle has no model {', '.join(unknown)}; it has {', '.join(bundle.models)}")
    python = ensure_venv(args.venv, say=lambda text: sys.stderr.write(text + "\n"))
    command = [str(python), str(SERVER_SCRIPT), "--bundle", str(bundle.root.resolve()), "--host", args.host,
               "--grpc-port", str(args.port), "--threads", str(args.threads), "--instances", str(args.instances),
               "--max-batch", str(args.max_batch)]  # fmt: skip
    if models:
        command += ["--models", ",".join(models)]
    sys.stderr.flush()
    # The server takes this process's place: Ctrl-C and SIGTERM reach it directly, and it cleans up after itself.
    os.execv(command[0], command)
    return 0  # not reached: execv does not return
