"""A Triton Inference Server for a bundle's ONNX models, run by NVIDIA PyTriton: the real `tritonserver` binary
that PyTriton ships, with its Python backend handing each request to onnxruntime in this process.

This file runs inside a virtual environment of its own (`runtime/triton/environment.py` makes it): PyTriton
0.7 needs numpy<2 and tritonclient's protobuf<7, where the runtime needs protobuf 7, so the two cannot share one.
It therefore imports nothing from eai_avatar: it reads the bundle's manifest.json itself.

    python pytriton_server.py --bundle DIR [--grpc-port 8001] [--models renderer,...] [--threads 2] [--max-batch 32]

Each model is served under its bundle name, with the tensors of its manifest entry. The renderer batches across
requests (several sessions' frames, from any number of runtime replicas) with Triton's dynamic batcher, as in
the repository `eai-avatar export --triton-repo` writes for a GPU server; CRHMG and Audio2Exp run request by request,
since their time axes differ between requests. A line "ready grpc=HOST:PORT" on stdout says the models answer.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import sysconfig
import warnings
from pathlib import Path

#: Models whose first axis requests can share (export/triton.py batches the same one).
BATCHED_MODELS = ("renderer",)
#: Requests wait this long for others to batch with (export/triton.py uses the same).
QUEUE_DELAY_US = 2000
PREFERRED_BATCHES = (2, 8, 16, 32)


def python_library_path() -> str:
    """LD_LIBRARY_PATH with this interpreter's libpython first.

    The Python backend's stub process links libpython3.X.so from the dynamic loader's path and runs this venv's
    standard library. Where the system has a libpython of another patch release (Debian's 3.11.2 beside a
    pyenv 3.11.7), the stub would load that one, and multiprocessing fails inside it (`'_thread.RLock' object
    has no attribute '_recursion_count'`); the interpreter's own library directory first avoids that."""
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    library_dir = sysconfig.get_config_var("LIBDIR")
    if sysconfig.get_config_var("Py_ENABLE_SHARED") and library_dir and library_dir not in paths:
        paths.insert(0, library_dir)
    return ":".join(paths)


def read_models(bundle: Path) -> dict[str, dict]:
    """name -> the manifest's model entry (path, inputs, outputs)."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    return dict(manifest["models"])


def onnx_session(path: Path, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # The same settings as the runtime's own onnxruntime engine (runtime/engines/onnx.py), so results agree.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def tensors(specs: list[dict], batched: bool):
    """PyTriton tensors for the manifest's specs; a batched model's first axis is Triton's batch axis.

    A per-item scalar (the renderer's identity, shape [batch]) is declared with shape [1]: Triton needs at least
    one axis per item. It is the same wire shape as export/triton.py's `dims: [1]` with `reshape: []`."""
    import numpy as np
    from pytriton.model_config import Tensor

    made = []
    for spec in specs:
        shape = spec["shape"][1:] if batched else spec["shape"]
        dims = tuple(d if isinstance(d, int) else -1 for d in shape) or (1,)
        made.append(Tensor(name=spec["name"], dtype=np.dtype(spec["dtype"]).type, shape=dims))
    return made


def batched_function(session, entry: dict):
    """Triton's gathered requests -> one onnxruntime run -> the batch split back (PyTriton's @batch)."""
    from pytriton.decorators import batch

    scalar_inputs = {s["name"] for s in entry["inputs"] if len(s["shape"]) == 1}
    scalar_outputs = {s["name"] for s in entry["outputs"] if len(s["shape"]) == 1}
    output_names = [s["name"] for s in entry["outputs"]]

    @batch
    def infer(**inputs):
        feeds = {name: value.reshape(-1) if name in scalar_inputs else value for name, value in inputs.items()}
        results = session.run(output_names, feeds)
        return {name: value.reshape(-1, 1) if name in scalar_outputs else value
                for name, value in zip(output_names, results, strict=True)}  # fmt: skip

    return infer


def unbatched_function(session, entry: dict):
    """Each request run by itself (the model's own batch axis is part of the request's shape)."""
    output_names = [s["name"] for s in entry["outputs"]]

    def infer(requests):
        answers = []
        for request in requests:
            results = session.run(output_names, {name: request[name] for name in request})
            answers.append(dict(zip(output_names, results, strict=True)))
        return answers

    return infer


def serve(args: argparse.Namespace) -> None:
    from pytriton.model_config import DynamicBatcher, ModelConfig
    from pytriton.triton import DEFAULT_PROTECTED_ENDPOINTS, Triton, TritonConfig, TritonSecurityConfig

    models = read_models(args.bundle)
    if args.models:
        unknown = sorted(set(args.models) - set(models))
        if unknown:
            raise SystemExit(f"error: the bundle has no model {', '.join(unknown)}; it has {', '.join(models)}")
        models = {name: entry for name, entry in models.items() if name in args.models}
    config = TritonConfig(grpc_address=args.host, grpc_port=args.grpc_port, allow_http=False, allow_metrics=False,
                          log_verbose=0, exit_timeout_secs=5)  # fmt: skip
    preferred = [size for size in PREFERRED_BATCHES if size <= args.max_batch]
    workspace = str(args.workspace) if args.workspace else None
    # Statistics open to any client (how well the renderer batches is what an operator watches); loading models,
    # shared memory, tracing and logging stay behind PyTriton's access token.
    security = TritonSecurityConfig(restricted_endpoints=[e for e in DEFAULT_PROTECTED_ENDPOINTS if e != "statistics"])
    with Triton(config=config, workspace=workspace, security_config=security) as triton:
        for name, entry in models.items():
            batched = name in BATCHED_MODELS
            if batched:  # each instance its own onnxruntime session, so instances run side by side
                functions = [batched_function(onnx_session(args.bundle / entry["path"], args.threads), entry)
                             for _ in range(args.instances)]  # fmt: skip
                model_config = ModelConfig(max_batch_size=args.max_batch, batcher=DynamicBatcher(
                    max_queue_delay_microseconds=args.queue_delay_us, preferred_batch_size=preferred))  # fmt: skip
            else:
                functions = [unbatched_function(onnx_session(args.bundle / entry["path"], args.threads), entry)]
                model_config = ModelConfig(batching=False)
            triton.bind(model_name=name, infer_func=functions, inputs=tensors(entry["inputs"], batched),
                        outputs=tensors(entry["outputs"], batched), config=model_config)  # fmt: skip
        triton.run()
        sys.stdout.write(f"ready grpc={args.host}:{args.grpc_port} models={','.join(models)}\n")
        sys.stdout.flush()
        triton.serve()


def _exit_on_signal(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="engine bundle folder (manifest.json and models)")
    parser.add_argument("--host", default="127.0.0.1", help="gRPC interface (default 127.0.0.1)")
    parser.add_argument("--grpc-port", type=int, default=8001, help="gRPC port (default 8001, Triton's)")
    parser.add_argument("--models", type=lambda text: [n for n in text.split(",") if n],
                        help="serve only these models, comma-separated (default: all of the bundle's)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads per model instance")
    parser.add_argument("--instances", type=int, default=1, help="renderer instances (each its own session)")
    parser.add_argument("--max-batch", type=int, default=32, help="largest renderer batch Triton gathers")
    parser.add_argument("--queue-delay-us", type=int, default=QUEUE_DELAY_US,
                        help="how long a renderer request waits for others to batch with")  # fmt: skip
    parser.add_argument("--workspace", type=Path, help="a new folder for PyTriton's sockets and model store "
                        "(default: one under ~/.cache/pytriton); a short path: it holds Unix sockets")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # PyTriton's own readiness client warns on every start that gRPC calls other than infer take no timeout: noise.
    warnings.filterwarnings("ignore", message="tritonclient.grpc doesn't support timeout")
    if not (args.bundle / "manifest.json").is_file():
        sys.stderr.write(f"error: {args.bundle} is not an engine bundle (no manifest.json)\n")
        return 2
    # The server's stub processes inherit this environment (PyTriton copies os.environ when it starts them).
    os.environ["LD_LIBRARY_PATH"] = python_library_path()
    # SIGTERM unwinds like Ctrl-C, so PyTriton stops its server and removes its shared memory and workspace.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        serve(args)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
