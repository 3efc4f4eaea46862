"""Head-mask sequences from the studio's dataset, at the model's mask size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.export.studio.dataset import load_manifest

ROLES = ("speaker", "listener")


def downsample(masks: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W) uint8 masks -> (T, size, size) float32 in [0, 1] by block averaging (H a multiple of size)."""
    frames, height, width = masks.shape
    if height % size or width % size:
        raise ValueError(f"masks of {width}x{height} cannot be block-averaged to {size}x{size}")
    blocks = masks.reshape(frames, size, height // size, size, width // size).astype(np.float32)
    return blocks.mean(axis=(2, 4)) / 255.0


def load_sequences(dataset: str | Path, split: str, size: int = 64, roles=ROLES) -> list[dict]:
    """Each role of each clip in `split` as {"masks": (T, size, size) float32, "role": "speak"|"listen", "clip"}."""
    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    if split not in manifest["splits"]:
        raise ValueError(f"no split {split!r} in {dataset}; it has {sorted(manifest['splits'])}")
    wanted = set(manifest["splits"][split])
    sequences = []
    for record in manifest["clips"]:
        if record["clip_id"] not in wanted:
            continue
        for role in roles:
            path = dataset / record["path"] / f"{role}.npz"
            if not path.exists():
                continue
            with np.load(path) as arrays:
                masks = downsample(arrays["masks"], size)
            sequences.append(
                {"masks": masks, "role": "speak" if role == "speaker" else "listen", "clip": record["clip_id"]}
            )
    if not sequences:
        raise ValueError(f"the {split!r} split of {dataset} holds no mask sequences")
    return sequences


def sample_windows(sequences: list[dict], count: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random windows (count, window, size, size) from sequences at least `window` frames long."""
    usable = [s["masks"] for s in sequences if len(s["masks"]) >= window]
    if not usable:
        raise ValueError(f"no sequence is {window} frames long; use a shorter window")
    picks = rng.integers(len(usable), size=count)
    out = []
    for index in picks:
        masks = usable[index]
        start = int(rng.integers(len(masks) - window + 1))
        out.append(masks[start : start + window])
    return np.stack(out)
