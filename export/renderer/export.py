"""The student renderer to ONNX: control (B, 4, S, S), identity (B,) -> RGBA (B, 4, S, S), dynamic batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.models.renderer_student import RendererStudent

OPSET = 18
FILENAME = "renderer.onnx"


def export_student(model: RendererStudent, out: Path, size: int = 256) -> Path:
    model = model.eval()
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILENAME
    batch = torch.export.Dim("batch", min=1, max=64)
    example = (torch.zeros(2, 4, size, size), torch.zeros(2, dtype=torch.int64))
    with torch.no_grad():
        torch.onnx.export(
            model, example, str(path), input_names=["control", "identity"], output_names=["rgba"],
            opset_version=OPSET, dynamo=True, external_data=False,
            dynamic_shapes={"control": {0: batch}, "identity": {0: batch}},
        )  # fmt: skip
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    return path


def parity(model: RendererStudent, path: Path, batch: int = 3, seed: int = 0) -> float:
    from eai_avatar.runtime.engines import create_engine

    engine = create_engine(path)
    size = next(s.shape[-1] for s in engine.input_spec() if s.name == "control")
    rng = np.random.default_rng(seed)
    control = rng.random((batch, 4, size, size)).astype(np.float32)
    identity = rng.integers(model.config.identities, size=batch).astype(np.int64)
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(control), torch.from_numpy(identity)).numpy()
    return float(np.abs(engine.run({"control": control, "identity": identity})["rgba"] - expected).max())
