"""What every trainer shares: one resumable training loop, checkpoints without pickle (tensors in safetensors, the
rest in JSON), presets, and saving and loading a trained model with its config."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

logger = logging.getLogger(__name__)


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    tensors, meta = {}, {"param_groups": optimizer.state_dict()["param_groups"], "state": {}}
    for param_id, values in optimizer.state_dict()["state"].items():
        meta["state"][str(param_id)] = {}
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{key}"] = value.detach().contiguous()
            else:
                meta["state"][str(param_id)][key] = value
    save_file(tensors, str(folder / "optimizer.safetensors"))
    (folder / "optimizer.json").write_text(json.dumps(meta), encoding="utf-8")
    # Written last: a checkpoint without trainer.json was interrupted and is not used.
    (folder / "trainer.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict:
    if not (folder / "trainer.json").is_file():
        raise FileNotFoundError(f"no complete checkpoint in {folder}")
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    if optimizer is not None:
        tensors = load_file(str(folder / "optimizer.safetensors"))
        meta = json.loads((folder / "optimizer.json").read_text(encoding="utf-8"))
        state = {}
        for param_id, values in meta["state"].items():
            state[int(param_id)] = dict(values)
        for key, value in tensors.items():
            param_id, name = key.split(".", 1)
            state.setdefault(int(param_id), {})[name] = value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return json.loads((folder / "trainer.json").read_text(encoding="utf-8"))


def pick_preset(presets: dict, name: str, **overrides):
    """presets[name] with the overrides that are not None."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(presets)}")
    return replace(presets[name], **{k: v for k, v in overrides.items() if v is not None})


def config_dict(config) -> dict:
    """A training config (a dataclass holding a model config with `to_dict`) as JSON-ready data."""
    data = asdict(config)
    data["model"] = config.model.to_dict()
    return data


def save_model(model: torch.nn.Module, folder: Path, stem: str) -> None:
    """folder/stem.safetensors (weights and buffers) + folder/stem.json (the model's config)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(folder / f"{stem}.safetensors"))
    (folder / f"{stem}.json").write_text(json.dumps(model.config.to_dict(), indent=1), encoding="utf-8")


def load_model(model_class, config_class, folder: str | Path, stem: str, command: str):
    """A model saved by `save_model`, in eval mode; `command` is what makes one, for the error message."""
    folder = Path(folder)
    if not (folder / f"{stem}.safetensors").is_file():
        raise FileNotFoundError(f"no trained {model_class.__name__} in {folder} (train one: {command})")
    config = config_class.from_dict(json.loads((folder / f"{stem}.json").read_text(encoding="utf-8")))
    model = model_class(config)
    model.load_state_dict(load_file(str(folder / f"{stem}.safetensors")))
    return model.eval()


def seed_and_threads(config) -> None:
    """Seed torch and set its CPU threads from a training config, before the trainer builds its model: the same
    config then builds the same initial weights."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)


class TrainingLoop:
    """The resumable step loop every trainer runs; the trainer supplies the model-specific parts as callables.

    Per step: `batch()` makes a batch, `loss(batch)` returns (total, logs), then backward, optional gradient
    clipping, the optimizer's and optional scheduler's step, and an optional exponential moving average of the
    weights (`ema`, warming up with training). Every `config.checkpoint_every` steps, at the last step and when the
    time box (`max_seconds`) runs out, a history entry is recorded and out/checkpoint is saved with
    {"step", "history", "config"} in trainer.json, so an interrupted run resumes where it stopped (`resume()`).
    A history entry is {"step", "train": logs, "val": validate()} with a `validate`, else {"step", "loss": the
    training loss averaged over the last 200 steps}.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, out: Path, config, *,
                 schedule: torch.optim.lr_scheduler.LRScheduler | None = None, ema: torch.nn.Module | None = None,
                 ema_decay: float = 0.999, clip: float | None = 1.0, max_seconds: float | None = None):  # fmt: skip
        self.model, self.optimizer, self.schedule, self.config = model, optimizer, schedule, config
        self.ema, self.ema_decay, self.clip, self.max_seconds = ema, ema_decay, clip, max_seconds
        self.out, self.checkpoint = out, out / "checkpoint"
        self.start = self.step = 0
        self.history: list[dict] = []
        self.recent: list[float] = []  # this run's training losses
        self.started = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)

    @property
    def has_checkpoint(self) -> bool:
        return (self.checkpoint / "trainer.json").exists()

    def resume(self) -> int:
        """Continue from out/checkpoint when there is one; returns the step it stopped at (0 without one)."""
        if self.has_checkpoint:
            state = load_checkpoint(self.checkpoint, self.model, self.optimizer)
            self.start, self.history = state["step"], state["history"]
            if self.schedule is not None:  # its position is not stored: step it back to where it stood
                with warnings.catch_warnings():  # (torch warns of a schedule stepped before the optimizer: meant here)
                    warnings.filterwarnings("ignore", re.escape("Detected call of `lr_scheduler.step()`"), UserWarning)
                    for _ in range(self.start):
                        self.schedule.step()
            if self.ema is not None:  # the average is not stored either: it restarts from the weights
                self.ema.load_state_dict(self.model.state_dict())
            logger.info("resuming from step %d", self.start)
        self.step = self.start
        return self.start

    def mean_loss(self, last: int) -> float:
        """The training loss averaged over this run's `last` steps."""
        return float(np.mean(self.recent[-last:]))

    def run(self, batch: Callable[[], Any], loss: Callable[[Any], tuple[torch.Tensor, dict]],
            validate: Callable[[], dict] | None = None, progress: Callable | None = None, desc: str = "training",
            postfix: Callable[[dict], dict] | None = None,
            on_checkpoint: Callable[[int], None] | None = None) -> list[dict]:  # fmt: skip
        """Train from the current step to `config.steps` (or until the time box runs out); returns the history.

        `validate` runs in eval mode without gradients; `postfix(logs)` gives the progress bar's fields;
        `on_checkpoint(step)` runs after each checkpoint is saved (e.g. to save the averaged weights)."""
        steps = range(self.start, self.config.steps)
        bar = (
            progress(steps, initial=self.start, total=self.config.steps, desc=desc, unit="step") if progress else steps
        )
        self.started, self.recent = time.perf_counter(), []
        for step in bar:
            self.model.train()
            total, logs = loss(batch())
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            if self.clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            if self.schedule is not None:
                self.schedule.step()
            if self.ema is not None:
                self._update_ema(step)
            self.step = step + 1
            self.recent.append(logs["loss"])
            if progress and postfix:
                bar.set_postfix(**postfix(logs))
            timed_out = self.max_seconds is not None and time.perf_counter() - self.started > self.max_seconds
            if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps or timed_out:
                self._checkpoint(logs, validate, on_checkpoint)
            if timed_out:
                logger.warning("stopped at step %d: the %s s time box ran out", self.step, self.max_seconds)
                break
        if progress:
            bar.close()
        return self.history

    def _update_ema(self, step: int) -> None:
        decay = min(self.ema_decay, (1 + step) / (10 + step))  # the average warms up with training
        with torch.no_grad():
            for averaged, current in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                averaged.lerp_(current, 1 - decay)

    def _checkpoint(self, logs: dict, validate: Callable[[], dict] | None, on_checkpoint) -> None:
        if validate is not None:
            self.model.eval()
            with torch.no_grad():
                entry = {"train": logs, "val": validate()}
        else:
            entry = {"loss": self.mean_loss(200)}
        self.history.append({"step": self.step, **entry})
        save_checkpoint(self.checkpoint, self.model, self.optimizer,
                        {"step": self.step, "history": self.history, "config": config_dict(self.config)})  # fmt: skip
        if on_checkpoint is not None:
            on_checkpoint(self.step)

    def finish(self, **extra) -> dict:
        """out/train_report.json: the steps, this run's seconds and the history, then the trainer's `extra`."""
        report = {"steps": self.config.steps, "seconds_this_run": round(time.perf_counter() - self.started, 1),
                  "history": self.history, **extra}  # fmt: skip
        (self.out / "train_report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        return report
