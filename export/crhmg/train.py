"""Training CRHMG on the studio's mask sequences: reconstruction (binary cross-entropy) plus beta * KL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.crhmg.data import load_sequences, sample_windows
from eai_avatar.export.models.crhmg import CRHMG, CRHMGConfig
from eai_avatar.export.training import TrainingLoop, load_model, pick_preset, save_model, seed_and_threads


@dataclass(frozen=True)
class CRHMGTrainConfig:
    """How CRHMG trains; `PRESETS` names the usual choices."""

    steps: int = 1000
    batch_size: int = 8
    window: int = 32
    learning_rate: float = 3e-4
    kl_weight: float = 1e-4
    motion_weight: float = 20.0  # motion magnitude against the truth's: a pixel of motion, BCE barely sees it
    eps: float = 1.0  # eps at training: innovations at their true scale
    seed: int = 0
    checkpoint_every: int = 250
    threads: int = 2
    model: CRHMGConfig = CRHMGConfig()


PRESETS = {
    # Under 20 minutes on 2 CPU cores.
    "quick": CRHMGTrainConfig(),
    # For a GPU: more steps, bigger batches, longer windows.
    "full": CRHMGTrainConfig(steps=40_000, batch_size=64, window=64, checkpoint_every=2000, threads=8),
    # Seconds: for tests.
    "tiny": CRHMGTrainConfig(
        steps=30,
        batch_size=4,
        window=12,
        checkpoint_every=10,
        model=CRHMGConfig(mask_size=32, latent_dim=64, num_layers=2, num_heads=4, feedforward_dim=128, max_frames=16),
    ),  # fmt: skip
}


def _loss(model: CRHMG, batch: torch.Tensor, config: CRHMGTrainConfig) -> tuple[torch.Tensor, dict]:
    out = model(batch, config.eps)
    reconstruction = F.binary_cross_entropy(out["reconstruction"], batch)
    autoencoded = F.binary_cross_entropy(out["autoencoded"], batch)
    # How much the masks move, per sequence, against the truth (the paper's temporal-consistency measure). An L1
    # on the frame differences themselves rewards standing still wherever the motion's direction is uncertain.
    true_motion = batch.diff(dim=1).abs().mean(dim=(1, 2, 3))
    motion = sum((out[key].diff(dim=1).abs().mean(dim=(1, 2, 3)) - true_motion).abs().mean()
                 for key in ("reconstruction", "autoencoded"))  # fmt: skip
    total = reconstruction + autoencoded + config.motion_weight * motion + config.kl_weight * out["kl"]
    logs = {"loss": total.item(), "bce": reconstruction.item(), "ae": autoencoded.item(), "motion": motion.item(),
            "kl": out["kl"].item()}  # fmt: skip
    return total, logs


def train_crhmg(data: Path, out: Path, config: CRHMGTrainConfig, progress=None, resume: bool = True) -> dict:
    """Train (or resume) into `out`: checkpoints in out/checkpoint, the final weights in out/crhmg.safetensors."""
    seed_and_threads(config)
    train = load_sequences(data, "train", config.model.mask_size)
    val = load_sequences(data, "val", config.model.mask_size)
    model = CRHMG(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loop = TrainingLoop(model, optimizer, out, config)
    start = loop.resume() if resume else 0
    rng = np.random.default_rng(config.seed + start)
    val_batch = torch.from_numpy(sample_windows(val, 16, config.window, np.random.default_rng(12345)))

    def validate() -> dict:
        model.refresh_noise_shaping()  # the buffers the checkpoint saves and inference uses
        torch.manual_seed(0)  # the loss draws noise: the same draw at every validation
        return _loss(model, val_batch, config)[1]

    loop.run(
        batch=lambda: torch.from_numpy(sample_windows(train, config.batch_size, config.window, rng)),
        loss=lambda batch: _loss(model, batch, config),
        validate=validate,
        progress=progress,
        desc="training CRHMG",
        postfix=lambda logs: {"bce": f"{logs['bce']:.4f}", "kl": f"{logs['kl']:.1f}"},
    )
    save_model(model, out, "crhmg")
    return loop.finish(train_sequences=len(train), val_sequences=len(val))


def load_crhmg(folder: Path) -> CRHMG:
    """A trained CRHMG from `folder` (crhmg.json + crhmg.safetensors), in eval mode."""
    return load_model(CRHMG, CRHMGConfig, folder, "crhmg", "eai-avatar train crhmg")


def preset(name: str, **overrides) -> CRHMGTrainConfig:
    return pick_preset(PRESETS, name, **overrides)
