"""Training CRHMG on the studio's mask sequences: reconstruction (binary cross-entropy) plus beta * KL."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.crhmg.checkpoint import load_checkpoint, save_checkpoint
from eai_avatar.export.crhmg.data import load_sequences, sample_windows
from eai_avatar.export.models.crhmg import CRHMG, CRHMGConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CRHMGTrainConfig:
    """How CRHMG trains; `PRESETS` names the usual choices."""

    steps: int = 1500
    batch_size: int = 8
    window: int = 32
    learning_rate: float = 3e-4
    kl_weight: float = 1e-4
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
    total = reconstruction + autoencoded + config.kl_weight * out["kl"]
    logs = {"loss": total.item(), "bce": reconstruction.item(), "ae": autoencoded.item(), "kl": out["kl"].item()}
    return total, logs


def train_crhmg(data: Path, out: Path, config: CRHMGTrainConfig, progress=None, resume: bool = True) -> dict:
    """Train (or resume) into `out`: checkpoints in out/checkpoint, the final weights in out/crhmg.safetensors."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    train = load_sequences(data, "train", config.model.mask_size)
    val = load_sequences(data, "val", config.model.mask_size)
    model = CRHMG(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint"
    start, history = 0, []
    if resume and (checkpoint / "trainer.json").exists():
        state = load_checkpoint(checkpoint, model, optimizer)
        start, history = state["step"], state["history"]
        logger.info("resuming from step %d", start)
    rng = np.random.default_rng(config.seed + start)
    val_batch = torch.from_numpy(sample_windows(val, 16, config.window, np.random.default_rng(12345)))
    steps = range(start, config.steps)
    bar = progress(steps, initial=start, total=config.steps, desc="training CRHMG", unit="step") if progress else steps
    started = time.perf_counter()
    for step in bar:
        model.train()
        batch = torch.from_numpy(sample_windows(train, config.batch_size, config.window, rng))
        loss, logs = _loss(model, batch, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if progress:
            bar.set_postfix(bce=f"{logs['bce']:.4f}", kl=f"{logs['kl']:.1f}")
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            model.refresh_noise_shaping()
            model.eval()
            with torch.no_grad():
                torch.manual_seed(0)
                _, val_logs = _loss(model, val_batch, config)
            history.append({"step": step + 1, "train": logs, "val": val_logs})
            save_checkpoint(checkpoint, model, optimizer, {"step": step + 1, "history": history,
                                                           "config": _config_dict(config)})  # fmt: skip
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "crhmg.safetensors"))
    (out / "crhmg.json").write_text(json.dumps(config.model.to_dict(), indent=1), encoding="utf-8")
    report = {"steps": config.steps, "seconds_this_run": round(time.perf_counter() - started, 1), "history": history,
              "train_sequences": len(train), "val_sequences": len(val)}  # fmt: skip
    (out / "train_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def _config_dict(config: CRHMGTrainConfig) -> dict:
    data = asdict(config)
    data["model"] = config.model.to_dict()
    return data


def load_crhmg(folder: Path) -> CRHMG:
    """A trained CRHMG from `folder` (crhmg.json + crhmg.safetensors), in eval mode."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "crhmg.safetensors").is_file():
        raise FileNotFoundError(f"no trained CRHMG in {folder} (train one: eai-avatar train crhmg)")
    config = CRHMGConfig.from_dict(json.loads((folder / "crhmg.json").read_text(encoding="utf-8")))
    model = CRHMG(config)
    model.load_state_dict(load_file(str(folder / "crhmg.safetensors")))
    return model.eval()


def preset(name: str, **overrides) -> CRHMGTrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
