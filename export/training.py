"""What every trainer shares: resumable checkpoints without pickle (tensors in safetensors, the rest in JSON),
presets, and saving and loading a trained model with its config."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


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
