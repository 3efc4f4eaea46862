"""Resumable checkpoints without pickle: model and optimizer tensors in safetensors, the rest in JSON."""

from __future__ import annotations

import json
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
