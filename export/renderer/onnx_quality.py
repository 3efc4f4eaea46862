"""The exported renderer (fp32, fp16 or int8 ONNX) on held-out frames: SSIM and PSNR against ground truth.

The same frames and metrics as `evaluate.evaluate_student`, but through onnxruntime, so a precision variant is
judged by what ships rather than by the PyTorch model it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.renderer.data import load_frames
from eai_avatar.export.renderer.metrics import psnr, ssim


def render_onnx(engine, control: np.ndarray, identity: np.ndarray, batch: int = 16) -> np.ndarray:
    """uint8 controls (N, 4, H, W) through a renderer engine -> RGBA float32 (N, 4, H, W)."""
    out = []
    for start in range(0, len(control), batch):
        feed = {"control": control[start : start + batch].astype(np.float32) / 255.0,
                "identity": identity[start : start + batch].astype(np.int64)}  # fmt: skip
        out.append(engine.run(feed)["rgba"])
    return np.concatenate(out)


def evaluate_onnx(
    path: Path, dataset: Path, split: str = "test", every: int = 5, threads: int = 1, batch: int = 16
) -> dict:
    """Mean SSIM and PSNR of the ONNX renderer at `path` over every `every`-th frame of the split."""
    from eai_avatar.runtime.engines import create_engine

    path = Path(path)
    engine = create_engine(path, threads=threads)
    data = load_frames(dataset, split, every)
    ssims, psnrs = [], []
    # Scored batch by batch: SSIM over a whole split at once holds gigabytes of windowed maps.
    for start in range(0, len(data["rgb"]), batch):
        window = slice(start, start + batch)
        rgba = render_onnx(engine, data["control"][window], data["identity"][window], batch)
        rendered = torch.from_numpy(rgba[:, :3])
        truth = torch.from_numpy(data["rgb"][window].astype(np.float32) / 255.0)
        ssims.append(ssim(rendered, truth))
        psnrs.append(psnr(rendered, truth))
    return {
        "ssim": float(torch.cat(ssims).mean()), "psnr_db": float(torch.cat(psnrs).mean()),
        "frames": len(data["rgb"]), "split": split, "every": every, "size": list(data["rgb"].shape[-2:]),
        "model": str(path), "precision": engine.metadata().get("precision", "fp32"),
    }  # fmt: skip


def calibration_feeds(
    dataset: Path, split: str = "train", count: int = 64, batch: int = 8, every: int = 37
) -> list[dict[str, np.ndarray]]:
    """`count` frames drawn at random from every `every`-th frame of the whole split, `batch` per feed.

    Drawing from the whole split (not its first clips) gives every identity its share of the calibration: with the
    first clips alone one identity had 3 frames of 64.
    """
    data = load_frames(dataset, split, every)
    picks = np.sort(np.random.default_rng(0).choice(len(data["rgb"]), size=min(count, len(data["rgb"])), replace=False))
    control = data["control"][picks].astype(np.float32) / 255.0
    identity = data["identity"][picks]
    return [{"control": control[start : start + batch], "identity": identity[start : start + batch]}
            for start in range(0, len(control), batch)]  # fmt: skip
