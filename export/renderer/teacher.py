"""Training the renderer's teacher (eqs. 11-12) per identity, rendering with it, and its samples for distillation.

The teacher works at its own `image_size` (64 on a CPU, 128 on a GPU): frames and controls are area-downsampled
to it once at load. Its renders are compared with the 256x256 ground truth after bilinear upsampling, and at its
own size against the downsampled truth (evaluate.py reports both). An exponential moving average of the weights
is what gets saved and sampled: after a short training the raw weights' samples are visibly noisier.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.models.renderer_teacher import RendererTeacher, RendererTeacherConfig
from eai_avatar.export.renderer.data import identity_names, load_frames
from eai_avatar.export.training import TrainingLoop, load_model, pick_preset, save_model, seed_and_threads

TEACHER_STEM = "renderer_teacher"


@dataclass(frozen=True)
class TeacherTrainConfig:
    steps: int = 3000
    batch_size: int = 8
    learning_rate: float = 2e-4
    every: int = 5  # every n-th frame of each clip
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 500
    threads: int = 2
    device: str = "cpu"
    max_seconds: float | None = None  # stop (and save) early when a time box runs out, e.g. on a lent GPU
    model: RendererTeacherConfig = RendererTeacherConfig()


PRESETS = {
    "quick": TeacherTrainConfig(),
    "gpu": TeacherTrainConfig(
        steps=20_000,
        batch_size=64,
        learning_rate=3e-4,
        every=2,
        checkpoint_every=1000,
        threads=8,
        device="cuda",
        model=RendererTeacherConfig(image_size=128, block_channels=(64, 128, 256)),
    ),  # fmt: skip
    "tiny": TeacherTrainConfig(
        steps=4,
        batch_size=2,
        every=8,
        checkpoint_every=2,
        model=RendererTeacherConfig(
            image_size=16,
            block_channels=(8, 16),
            norm_groups=4,
            attention_head_dim=4,
            context_dim=8,
            train_timesteps=50,
        ),
    ),  # fmt: skip
}


def preset(name: str, **overrides) -> TeacherTrainConfig:
    return pick_preset(PRESETS, name, **overrides)


def resize(images: np.ndarray | torch.Tensor, size: int, device: str = "cpu", chunk: int = 256) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, size, size) by area averaging (exact for integer factors)."""
    images = torch.as_tensor(images)
    out = []
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk].to(device).float()
        if part.shape[-1] != size:
            part = F.interpolate(part, size=(size, size), mode="area")
        out.append(part.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)


def _teacher_frames(data: Path, split: str, every: int, identity: str | None, size: int, device: str) -> dict:
    frames = load_frames(data, split, every, identity=identity)
    return {"control": resize(frames["control"], size, device), "rgb": resize(frames["rgb"], size, device),
            "identity": torch.from_numpy(frames["identity"]).to(device)}  # fmt: skip


def _token_index(identity: torch.Tensor, dataset_indices: list[int], identities: int, device: str) -> torch.Tensor:
    """Dataset identity indices -> the teacher's token indices (a per-identity teacher has one token)."""
    lookup = torch.full((identities,), -1, dtype=torch.long, device=device)
    lookup[torch.tensor(dataset_indices, device=device)] = torch.arange(len(dataset_indices), device=device)
    return lookup[identity]


def train_teacher(data: Path, out: Path, config: TeacherTrainConfig, identity: str | None = None, progress=None,
                  resume: bool = True) -> dict:  # fmt: skip
    """Eq. 12 on `identity`'s training frames (every identity's, one token each, when None)."""
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("this preset trains on a GPU (device cuda) and none is visible; use --device cpu")
    seed_and_threads(config)
    names = identity_names(data)
    trained_on = [identity] if identity else names
    config = replace(config, model=replace(config.model, identities=len(trained_on)))
    device, size = config.device, config.model.image_size
    train = _teacher_frames(data, "train", config.every, identity, size, device)
    tokens = _token_index(train["identity"], [names.index(n) for n in trained_on], len(names), device)
    model = RendererTeacher(config.model).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    loop = TrainingLoop(model, optimizer, out, config, ema=ema, ema_decay=config.ema_decay,
                        max_seconds=config.max_seconds)  # fmt: skip
    resuming = resume and loop.has_checkpoint
    if resuming and json.loads((out / "identities.json").read_text(encoding="utf-8")) != trained_on:
        before = json.loads((out / "identities.json").read_text(encoding="utf-8"))
        raise ValueError(f"the checkpoint in {out} was trained on {', '.join(before)}, not {', '.join(trained_on)}: "
                         "pass the same --identity, or --no-resume to start over")  # fmt: skip
    (out / "identities.json").write_text(json.dumps(trained_on), encoding="utf-8")
    start = loop.resume() if resuming else 0
    generator = torch.Generator(device=device).manual_seed(config.seed + start)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda"))

    def loss(picks: torch.Tensor) -> tuple[torch.Tensor, dict]:
        with autocast:
            total = model.loss(train["rgb"][picks].float() / 255.0, train["control"][picks].float() / 255.0,
                               tokens[picks], generator=generator)  # fmt: skip
        return total, {"loss": total.item()}

    loop.run(
        batch=lambda: torch.randint(len(train["rgb"]), (config.batch_size,), generator=generator, device=device),
        loss=loss,
        progress=progress,
        desc="training the teacher",
        postfix=lambda logs: {"loss": f"{loop.mean_loss(50):.4f}"},
        on_checkpoint=lambda step: save_model(ema, out, TEACHER_STEM),  # a stopped run leaves a usable teacher
    )
    return loop.finish(steps_done=loop.step, train_frames=len(train["rgb"]), identities=trained_on,
                       device=device, device_name=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
                       parameters=sum(p.numel() for p in model.parameters()))  # fmt: skip


def load_teacher(folder: Path, device: str = "cpu") -> tuple[RendererTeacher, list[str]]:
    """The teacher (EMA weights) and the identity names its tokens stand for."""
    model = load_model(RendererTeacher, RendererTeacherConfig, folder, TEACHER_STEM,
                       "eai-avatar train renderer-teacher")  # fmt: skip
    names = json.loads((Path(folder) / "identities.json").read_text(encoding="utf-8"))
    return model.to(device), names


@torch.no_grad()
def teacher_render(teacher: RendererTeacher, teacher_names: list[str], dataset_names: list[str],
                   control: np.ndarray, identity: np.ndarray, steps: int = 20, batch: int = 64, seed: int = 0,
                   device: str = "cpu") -> torch.Tensor:  # fmt: skip
    """uint8 controls (N, 4, H, W) at any size -> RGB float (N, 3, S, S) at the teacher's size, on the CPU.

    `identity` holds dataset indices; every frame starts from the same noise (see RendererTeacher.sample).
    """
    missing = sorted({dataset_names[i] for i in np.unique(identity)} - set(teacher_names))
    if missing:
        raise ValueError(f"the teacher was trained on {', '.join(teacher_names)}, not {', '.join(missing)}")
    size = teacher.config.image_size
    tokens = torch.tensor([teacher_names.index(dataset_names[i]) for i in identity], device=device)
    noise = torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(seed)).to(device)
    out = []
    for start in range(0, len(control), batch):
        small = resize(control[start : start + batch], size, device).float() / 255.0
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
            out.append(teacher.sample(small, tokens[start : start + batch], steps, noise=noise).float().cpu())
    return torch.cat(out)


def write_teacher_samples(teacher: RendererTeacher, teacher_names: list[str], data: Path, out: Path,
                          every: int = 10, steps: int = 20, device: str = "cpu", progress=None) -> int:  # fmt: skip
    """The teacher's renders of the training controls of its identities, for distilling the student.

    Writes {"control" uint8 (N, 4, H, W) at the dataset's size, "identity" (N,) dataset indices, "teacher" uint8
    (N, 3, S, S) at the teacher's size, "identity_names"}; returns N.
    """
    names = identity_names(data)
    parts = [load_frames(data, "train", every, identity=name) for name in teacher_names]
    control = np.concatenate([p["control"] for p in parts])
    identity = np.concatenate([p["identity"] for p in parts])
    chunks = range(0, len(control), 256)
    rendered = []
    for start in progress(chunks, desc="teacher samples", unit="chunk") if progress else chunks:
        part = teacher_render(teacher, teacher_names, names, control[start : start + 256],
                              identity[start : start + 256], steps, device=device)  # fmt: skip
        rendered.append((part * 255).round().to(torch.uint8).numpy())
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, control=control, identity=identity, teacher=np.concatenate(rendered),
                        identity_names=np.array(names))  # fmt: skip
    return len(control)
