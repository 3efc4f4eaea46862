"""CRHMG on an inference engine: the two exported graphs behind HeadMaskGenerator."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.runtime.engines import Engine, create_engine
from eai_avatar.runtime.models.head_masks import HeadMaskGenerator


def engine_head_mask_generator(
    encoder: Engine, generator: Engine, window: int = 32, anchor: float = 0.1, overlap: int = 8
) -> HeadMaskGenerator:
    latent_dim = next(s.shape[-1] for s in generator.input_spec() if s.name == "z1")
    if not isinstance(latent_dim, int):
        raise ValueError("the CRHMG generator graph must have a fixed latent size")

    def encode(masks: np.ndarray) -> np.ndarray:
        return encoder.run({"masks": masks.astype(np.float32)})["latent"]

    def generate(z1: np.ndarray, eta: np.ndarray, eps: np.ndarray) -> np.ndarray:
        return generator.run({"z1": z1.astype(np.float32), "eta": eta, "eps": eps.astype(np.float32)})["masks"]

    return HeadMaskGenerator(encode, generate, latent_dim, window, anchor, overlap)


def load_head_mask_generator(
    folder: str | Path, backend: str = "onnxruntime", window: int = 32, overlap: int = 8, **options
) -> HeadMaskGenerator:
    """A HeadMaskGenerator from a folder holding crhmg_encoder.onnx and crhmg_generator.onnx."""
    folder = Path(folder)
    encoder = create_engine(folder / "crhmg_encoder.onnx", backend, **options)
    generator = create_engine(folder / "crhmg_generator.onnx", backend, **options)
    return engine_head_mask_generator(encoder, generator, window, overlap=overlap)
