"""An NVIDIA Triton Inference Server model repository from a bundle: the standard way to serve the heavy models
(the renderer above all) from GPUs past one machine.

    repo/<model>/config.pbtxt    platform onnxruntime_onnx; the renderer batches dynamically across sessions
    repo/<model>/1/model.onnx    the bundle's file

Only the renderer has a batch axis that requests can share (frames of different avatars): Triton's dynamic batcher
gathers them up to `max_batch_size`. CRHMG and Audio2Exp run per stream (their time axes differ per request), so
they are declared without Triton batching (max_batch_size 0, every axis explicit).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from eai_avatar.runtime.bundle import Bundle

RENDERER_MAX_BATCH = 32
_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "int64": "TYPE_INT64", "int32": "TYPE_INT32"}


def _dims(shape: tuple, batched: bool) -> str:
    axes = shape[1:] if batched else shape
    return "[ " + ", ".join(str(d) if isinstance(d, int) else "-1" for d in axes) + " ]"


def _tensor(spec, batched: bool) -> str:
    lines = [f'    name: "{spec.name}"', f"    data_type: {_TYPES[spec.dtype]}"]
    if batched and len(spec.shape) == 1:
        # A per-item scalar (the renderer's identity index): Triton wants at least one dim, so [1] reshaped away.
        lines += ["    dims: [ 1 ]", "    reshape: { shape: [ ] }"]
    else:
        lines.append(f"    dims: {_dims(spec.shape, batched)}")
    return "  {\n" + "\n".join(lines) + "\n  }"


def model_config(name: str, inputs, outputs, batched: bool) -> str:
    text = [
        f'name: "{name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {RENDERER_MAX_BATCH if batched else 0}",
    ]
    text.append("input [\n" + ",\n".join(_tensor(s, batched) for s in inputs) + "\n]")
    text.append("output [\n" + ",\n".join(_tensor(s, batched) for s in outputs) + "\n]")
    if batched:
        text.append("dynamic_batching {\n  preferred_batch_size: [ 2, 8, 16, 32 ]\n"
                    "  max_queue_delay_microseconds: 2000\n}")  # fmt: skip
    text.append("instance_group [ { count: 1, kind: KIND_GPU } ]")
    return "\n".join(text) + "\n"


def write_triton_repository(bundle_dir: Path, repo: Path) -> list[str]:
    """Write the repository for the (verified) bundle at `bundle_dir`; returns the model names written."""
    bundle = Bundle(bundle_dir)
    repo.mkdir(parents=True, exist_ok=True)
    for name, entry in bundle.models.items():
        folder = repo / name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle.path(name), folder / "1" / "model.onnx")
        config = model_config(name, entry.inputs, entry.outputs, batched=name == "renderer")
        (folder / "config.pbtxt").write_text(config, encoding="utf-8")
    return list(bundle.models)
