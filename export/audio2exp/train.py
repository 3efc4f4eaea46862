"""Training Audio2Exp on studio data, and fine-tuning a trained model on one character's ingested video."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.audio2exp.data import load_examples, sample_windows
from eai_avatar.export.models.audio2exp import Audio2Exp, Audio2ExpConfig
from eai_avatar.export.training import TrainingLoop, load_model, pick_preset, save_model, seed_and_threads
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, LIP_SYNC_BLENDSHAPES


@dataclass(frozen=True)
class Audio2ExpTrainConfig:
    """How Audio2Exp trains; `PRESETS` names the usual choices."""

    steps: int = 3000
    batch_size: int = 16
    window: int = 50  # output frames per training window (2 s)
    learning_rate: float = 5e-4
    lip_sync_weight: float = 3.0  # the mouth is what a viewer checks first
    velocity_weight: float = 1.0  # frame-to-frame change, against jitter
    seed: int = 0
    checkpoint_every: int = 500
    threads: int = 2
    model: Audio2ExpConfig = Audio2ExpConfig()


PRESETS = {
    # Under 20 minutes on 2 CPU cores.
    "quick": Audio2ExpTrainConfig(),
    # For a GPU: wider, longer.
    "full": Audio2ExpTrainConfig(
        steps=30_000,
        batch_size=64,
        checkpoint_every=2000,
        threads=8,
        model=Audio2ExpConfig(hidden=384, dilations=(1, 2, 4, 8, 1, 2, 4, 8)),
    ),  # fmt: skip
    # Adapting a trained model to one character: few steps, a gentle rate, no dropout.
    "finetune": Audio2ExpTrainConfig(steps=300, batch_size=8, learning_rate=2e-4, checkpoint_every=100),
    # Seconds: for tests.
    "tiny": Audio2ExpTrainConfig(
        steps=40, batch_size=4, window=20, checkpoint_every=20, model=Audio2ExpConfig(hidden=32, dilations=(1, 2))
    ),  # fmt: skip
}


def preset(name: str, **overrides) -> Audio2ExpTrainConfig:
    return pick_preset(PRESETS, name, **overrides)


def _weights(config: Audio2ExpTrainConfig) -> torch.Tensor:
    weights = torch.ones(len(ARKIT_BLENDSHAPES))
    weights[[ARKIT_BLENDSHAPES.index(n) for n in LIP_SYNC_BLENDSHAPES]] = config.lip_sync_weight
    return weights / weights.mean()


def _loss(model: Audio2Exp, batch: dict, weights: torch.Tensor, config: Audio2ExpTrainConfig) -> tuple:
    logits = model.logits(torch.from_numpy(batch["features"]), torch.from_numpy(batch["emotion"]))
    predicted, target = torch.sigmoid(logits), torch.from_numpy(batch["blendshapes"])
    # An example teaches only the blendshapes its mask names (a speech folder's: the mouth), each at its weight.
    weights = weights * torch.from_numpy(batch["mask"])[:, None, :] if "mask" in batch else weights
    # Cross-entropy on the logits, not L1 on the sigmoid: an L1 through a saturated sigmoid has no gradient, and
    # a run at a higher rate died that way (every output stuck at 0).
    position = F.binary_cross_entropy_with_logits(logits, target, weight=weights)
    velocity = ((predicted.diff(dim=1) - target.diff(dim=1)).abs() * weights).mean()
    total = position + config.velocity_weight * velocity
    l1 = (predicted - target).abs().mean()
    return total, {"loss": total.item(), "bce": position.item(), "l1": l1.item(), "velocity": velocity.item()}


def _feature_statistics(examples: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    features = np.concatenate([e["features"] for e in examples if e["role"] == "speaker"] or
                              [e["features"] for e in examples])  # fmt: skip
    return features.mean(0), features.std(0) + 1e-3


def train_audio2exp(data: Path, out: Path, config: Audio2ExpTrainConfig, progress=None, resume: bool = True,
                    init: Path | None = None, speech: Sequence[Path] = (), speech_copies: int = 2) -> dict:  # fmt: skip
    """Train (or resume) into `out`; with `init`, fine-tune the model found there on `data` instead. `speech`:
    speech folders (export/speech) whose voices teach the mouth too, each utterance clean and `speech_copies` times
    augmented (export/audio2exp/speech_data.py).

    Writes checkpoints to out/checkpoint and the final model to out/audio2exp.safetensors + out/audio2exp.json.
    """
    seed_and_threads(config)
    train = load_examples(data, "train")
    studio_clips = len(train)
    if speech:
        from eai_avatar.export.audio2exp.speech_data import load_speech_examples

        train += load_speech_examples(speech, speech_copies, seed=config.seed, progress=progress)
    try:
        val = load_examples(data, "val")
    except ValueError:  # an ingested video has one clip, all of it train: check on what we have
        val = train
    if init is not None:
        model = load_audio2exp(init).train()
        config = replace(config, model=model.config)
    else:
        model = Audio2Exp(config.model)
        mean, std = _feature_statistics(train)
        model.feature_mean.copy_(torch.from_numpy(mean))
        model.feature_std.copy_(torch.from_numpy(std))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.learning_rate, total_steps=config.steps,
                                                   pct_start=0.05 if init is None else 0.0)  # fmt: skip
    loop = TrainingLoop(model, optimizer, out, config, schedule=schedule)
    start = loop.resume() if resume else 0
    weights = _weights(config)
    context = model.config.context
    rng = np.random.default_rng(config.seed + start)
    val_batch = sample_windows(val, 32, config.window, context, np.random.default_rng(12345))
    loop.run(
        batch=lambda: sample_windows(train, config.batch_size, config.window, context, rng),
        loss=lambda batch: _loss(model, batch, weights, config),
        validate=lambda: _loss(model, val_batch, weights, config)[1],
        progress=progress,
        desc="training Audio2Exp",
        postfix=lambda logs: {"l1": f"{logs['l1']:.4f}"},
    )
    save_audio2exp(model, out)
    return loop.finish(train_examples=len(train), val_examples=len(val), studio_examples=studio_clips,
                       speech_folders=[str(folder) for folder in speech], speech_copies=speech_copies if speech else 0,
                       finetuned_from=str(init) if init else None)  # fmt: skip


def save_audio2exp(model: Audio2Exp, folder: Path) -> None:
    save_model(model, folder, "audio2exp")


def load_audio2exp(folder: Path) -> Audio2Exp:
    """A trained Audio2Exp from `folder` (audio2exp.json + audio2exp.safetensors), in eval mode."""
    return load_model(Audio2Exp, Audio2ExpConfig, folder, "audio2exp", "eai-avatar train audio2exp")
