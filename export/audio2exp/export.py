"""Audio2Exp to ONNX: features (B, T + 2 context, D), emotion (B, 8) -> blendshapes (B, T, 52), dynamic B and T."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.models.audio2exp import Audio2Exp

OPSET = 18
FILENAME = "audio2exp.onnx"


def export_audio2exp(model: Audio2Exp, out: Path) -> Path:
    """Write audio2exp.onnx into `out` (the receptive field is kept in the graph's metadata)."""
    model = model.eval()
    c = model.config
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILENAME
    batch = torch.export.Dim("batch", min=1, max=256)
    # At least one output frame: the input is the frames plus their context on both sides.
    frames = torch.export.Dim("frames", min=2 * c.context + 1, max=100_000)
    example = (torch.zeros(2, 2 * c.context + 30, c.input_dim), torch.full((2, c.emotions), 1.0 / c.emotions))
    with torch.no_grad():
        torch.onnx.export(
            model, example, str(path), input_names=["features", "emotion"], output_names=["blendshapes"],
            opset_version=OPSET, dynamo=True, external_data=False,
            dynamic_shapes={"features": {0: batch, 1: frames}, "emotion": {0: batch}},
        )  # fmt: skip
    import onnx

    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    onnx.helper.set_model_props(graph, {"context_frames": str(c.context), "model": "audio2exp"})
    onnx.save(graph, str(path))
    return path


def parity(model: Audio2Exp, path: Path, frames: int = 50, batch: int = 2, seed: int = 0) -> float:
    """Largest absolute difference between PyTorch and onnxruntime on the same random inputs."""
    from eai_avatar.runtime.engines import create_engine

    model = model.eval()
    c = model.config
    rng = np.random.default_rng(seed)
    features = rng.normal(-5, 3, (batch, frames + 2 * c.context, c.input_dim)).astype(np.float32)
    emotion = rng.dirichlet(np.ones(c.emotions), batch).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(features), torch.from_numpy(emotion)).numpy()
    got = create_engine(path).run({"features": features, "emotion": emotion})["blendshapes"]
    return float(np.abs(got - expected).max())
