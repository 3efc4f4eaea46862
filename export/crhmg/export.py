"""CRHMG to ONNX: an encoder graph (mask -> latent) and a generator graph (z1, eta, eps -> masks, latents),
both with dynamic batch and sequence axes, checked with the onnx checker and against PyTorch in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.models.crhmg import CRHMG

OPSET = 18  # the dynamo exporter's own opset; converting down to 17 fails on some nodes


class _Encoder(torch.nn.Module):
    def __init__(self, model: CRHMG):
        super().__init__()
        self.model = model

    def forward(self, masks):
        return self.model.encode(masks)[0]


class _Generator(torch.nn.Module):
    def __init__(self, model: CRHMG):
        super().__init__()
        self.model = model

    def forward(self, z1, eta, eps):
        return self.model.generate(z1, eta, eps)


def export_crhmg(model: CRHMG, out: Path) -> dict[str, Path]:
    """Write crhmg_encoder.onnx and crhmg_generator.onnx into `out`."""
    model = model.eval()
    c = model.config
    out.mkdir(parents=True, exist_ok=True)
    paths = {"encoder": out / "crhmg_encoder.onnx", "generator": out / "crhmg_generator.onnx"}
    # The fused "fast path" of nn.TransformerEncoder is an opaque kernel that does not export; the plain
    # layers compute the same thing.
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            # The dynamo exporter keeps the sequence axis symbolic inside attention; the TorchScript one bakes
            # the traced length into its reshapes.
            batch, frames = (
                torch.export.Dim("batch", min=1, max=256),
                torch.export.Dim("frames", min=2, max=c.max_frames),
            )
            torch.onnx.export(
                _Encoder(model).eval(), (torch.zeros(2, 1, c.mask_size, c.mask_size),), str(paths["encoder"]),
                input_names=["masks"], output_names=["latent"], opset_version=OPSET, dynamo=True,
                dynamic_shapes={"masks": {0: batch}}, external_data=False,
            )  # fmt: skip
            torch.onnx.export(
                _Generator(model).eval(),
                (torch.zeros(2, c.latent_dim), torch.zeros(2, 8, c.latent_dim), torch.full((2,), 0.5)),
                str(paths["generator"]),
                input_names=["z1", "eta", "eps"], output_names=["masks", "latents"], opset_version=OPSET,
                dynamo=True, external_data=False,
                dynamic_shapes={"z1": {0: batch}, "eta": {0: batch, 1: frames}, "eps": {0: batch}},
            )  # fmt: skip
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
    import onnx

    for path in paths.values():
        onnx.checker.check_model(onnx.load(str(path)))
    return paths


def parity(model: CRHMG, paths: dict[str, Path], frames: int = 25, batch: int = 2, seed: int = 0) -> dict[str, float]:
    """Largest absolute difference between PyTorch and onnxruntime on the same random inputs (same noise)."""
    from eai_avatar.runtime.engines import create_engine

    model = model.eval()
    c = model.config
    rng = np.random.default_rng(seed)
    masks = (rng.random((batch, 1, c.mask_size, c.mask_size)) > 0.5).astype(np.float32)
    z1 = rng.standard_normal((batch, c.latent_dim)).astype(np.float32)
    eta = rng.standard_normal((batch, frames, c.latent_dim)).astype(np.float32)
    eps = rng.uniform(0.2, 0.9, batch).astype(np.float32)
    with torch.no_grad():
        torch_latent = model.encode(torch.from_numpy(masks))[0].numpy()
        torch_masks, torch_latents = (t.numpy() for t in model.generate(*map(torch.from_numpy, (z1, eta, eps))))
    encoder, generator = create_engine(paths["encoder"]), create_engine(paths["generator"])
    onnx_latent = encoder.run({"masks": masks})["latent"]
    generated = generator.run({"z1": z1, "eta": eta, "eps": eps})
    return {
        "encoder_latent": float(np.abs(onnx_latent - torch_latent).max()),
        "generator_masks": float(np.abs(generated["masks"] - torch_masks).max()),
        "generator_latents": float(np.abs(generated["latents"] - torch_latents).max()),
    }
