"""Training the renderer's student on studio frames: L1 + (1 - SSIM) against the ground truth, on random crops.

With teacher samples (`train renderer-teacher --samples`), each step also pulls the student's render, area-
downsampled to the teacher's size, towards the teacher's render of the same control (L1, `distill_weight`):
distillation from the teacher and supervision from ground truth together, as the paper's student is taught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.models.renderer_student import RendererStudent, RendererStudentConfig
from eai_avatar.export.renderer.data import identity_names, load_frames, sample_crops
from eai_avatar.export.renderer.metrics import ssim
from eai_avatar.export.training import TrainingLoop, load_model, pick_preset, save_model, seed_and_threads


@dataclass(frozen=True)
class StudentTrainConfig:
    steps: int = 6000
    batch_size: int = 4
    crop: int = 256  # fully convolutional, so it can train on crops; whole frames let it see the body's cues
    learning_rate: float = 2e-3
    ssim_weight: float = 0.5
    distill_weight: float = 0.5  # used only with teacher samples
    every: int = 10  # every n-th frame of each clip
    seed: int = 0
    checkpoint_every: int = 500
    threads: int = 2
    model: RendererStudentConfig = RendererStudentConfig()


PRESETS = {
    "quick": StudentTrainConfig(model=RendererStudentConfig(reference_size=64)),
    # quick plus the full-resolution detail head, on 2.5x the frames for longer (about an hour on one CPU thread)
    "sharp": StudentTrainConfig(
        steps=10_000, every=4, threads=1, model=RendererStudentConfig(reference_size=64, detail_channels=8)
    ),
    "full": StudentTrainConfig(
        steps=40_000,
        batch_size=32,
        crop=256,
        every=2,
        checkpoint_every=2000,
        threads=8,
        model=RendererStudentConfig(channels=(64, 128, 192), reference_size=64),
    ),  # fmt: skip
    "tiny": StudentTrainConfig(
        steps=20,
        batch_size=2,
        crop=32,
        every=8,
        checkpoint_every=10,
        model=RendererStudentConfig(channels=(8, 16), identity_dim=8, reference_size=8, detail_channels=4),
    ),  # fmt: skip
}


def preset(name: str, **overrides) -> StudentTrainConfig:
    return pick_preset(PRESETS, name, **overrides)


def _loss(model: RendererStudent, batch: dict, config: StudentTrainConfig) -> tuple[torch.Tensor, dict]:
    rgb = model(torch.from_numpy(batch["control"]), torch.from_numpy(batch["identity"]))[:, :3]
    target = torch.from_numpy(batch["rgb"])
    l1 = (rgb - target).abs().mean()
    structure = 1 - ssim(rgb, target).mean()
    total = l1 + config.ssim_weight * structure
    return total, {"loss": total.item(), "l1": l1.item(), "ssim": 1 - structure.item()}


def _load_teacher_samples(path: Path, names: list[str]) -> dict:
    with np.load(path) as arrays:
        samples = {key: arrays[key] for key in ("control", "identity", "teacher")}
        sample_names = [str(n) for n in arrays["identity_names"]]
    if sample_names != names:
        raise ValueError(f"{path} was made on identities {sample_names}, the dataset holds {names}")
    return samples


def _distill_loss(model: RendererStudent, samples: dict, count: int, rng: np.random.Generator) -> torch.Tensor:
    picks = rng.integers(len(samples["teacher"]), size=count)
    control = torch.from_numpy(samples["control"][picks].astype(np.float32) / 255.0)
    rgb = model(control, torch.from_numpy(samples["identity"][picks]))[:, :3]
    target = torch.from_numpy(samples["teacher"][picks].astype(np.float32) / 255.0)
    return (F.interpolate(rgb, size=target.shape[-2:], mode="area") - target).abs().mean()


def train_student(data: Path, out: Path, config: StudentTrainConfig, progress=None, resume: bool = True,
                  teacher_samples: Path | None = None, max_seconds: float | None = None) -> dict:  # fmt: skip
    """Train (or resume) into `out`: checkpoints in out/checkpoint, the final weights in out/renderer.safetensors;
    with `teacher_samples`, distilling from the teacher as well. With `max_seconds`, stop when that time has passed
    (a checkpoint is saved; the same call resumes it), so CPU training can run beside other work in time boxes."""
    seed_and_threads(config)
    names = identity_names(data)
    config = replace(config, model=replace(config.model, identities=len(names)))  # one embedding per identity
    train, val = load_frames(data, "train", config.every), load_frames(data, "val", config.every)
    samples = _load_teacher_samples(teacher_samples, names) if teacher_samples else None
    model = RendererStudent(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps,
                                                   pct_start=0.05)  # fmt: skip
    loop = TrainingLoop(model, optimizer, out, config, schedule=schedule, clip=None, max_seconds=max_seconds)
    (out / "identities.json").write_text(json.dumps(names), encoding="utf-8")
    start = loop.resume() if resume else 0
    rng = np.random.default_rng(config.seed + start)
    val_batch = sample_crops(val, 16, config.crop, np.random.default_rng(12345))

    def loss(batch: dict) -> tuple[torch.Tensor, dict]:
        total, logs = _loss(model, batch, config)
        if samples is not None:
            distill = _distill_loss(model, samples, config.batch_size, rng)
            total = total + config.distill_weight * distill
            logs["distill"] = distill.item()
        return total, logs

    loop.run(
        batch=lambda: sample_crops(train, config.batch_size, config.crop, rng),
        loss=loss,
        validate=lambda: _loss(model, val_batch, config)[1],
        progress=progress,
        desc="training the renderer",
        postfix=lambda logs: {"l1": f"{logs['l1']:.4f}", "ssim": f"{logs['ssim']:.3f}"},
    )
    save_model(model, out, "renderer")
    return loop.finish(steps_done=loop.step, train_frames=len(train["rgb"]), identities=names,
                       teacher_samples=len(samples["teacher"]) if samples else 0)  # fmt: skip


def load_student(folder: Path) -> RendererStudent:
    return load_model(RendererStudent, RendererStudentConfig, folder, "renderer", "eai-avatar train renderer")
