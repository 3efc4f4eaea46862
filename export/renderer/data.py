"""Renderer examples from the studio's dataset: control image (mask + E_t) -> RGB frame, per identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.export.studio.dataset import load_manifest


def identity_names(dataset: str | Path) -> list[str]:
    return list(load_manifest(dataset)["identities"])


def load_frames(dataset: str | Path, split: str, every: int = 10, limit: int | None = None) -> dict:
    """Every `every`-th frame of both roles of each clip in `split`.

    Returns {"control" (N, 4, H, W) uint8, "rgb" (N, 3, H, W) uint8, "identity" (N,) int64}; uint8 keeps a
    200-clip dataset's sample in about a gigabyte.
    """
    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    names = list(manifest["identities"])
    wanted = set(manifest["splits"].get(split, []))
    controls, frames, identities = [], [], []
    for record in manifest["clips"]:
        if record["clip_id"] not in wanted:
            continue
        for role, name in (("speaker", record["speaker"]), ("listener", record["listener"])):
            path = dataset / record["path"] / f"{role}.npz"
            if not path.exists() or name not in names:
                continue
            with np.load(path) as arrays:
                pick = slice(None, None, every)
                masks, motion, rgb = arrays["masks"][pick], arrays["motion"][pick], arrays["frames"][pick]
            controls.append(np.concatenate([masks[:, None], motion.transpose(0, 3, 1, 2)], axis=1))
            frames.append(rgb.transpose(0, 3, 1, 2))
            identities.append(np.full(len(rgb), names.index(name), np.int64))
        if limit and sum(len(f) for f in frames) >= limit:
            break
    if not frames:
        raise ValueError(f"the {split!r} split of {dataset} holds no frames")
    return {"control": np.concatenate(controls), "rgb": np.concatenate(frames), "identity": np.concatenate(identities)}


def sample_crops(data: dict, count: int, crop: int, rng: np.random.Generator) -> dict:
    """Random (count) crops of `crop` pixels, as float32 in [0, 1]."""
    size = data["rgb"].shape[-1]
    picks = rng.integers(len(data["rgb"]), size=count)
    ys, xs = rng.integers(0, size - crop + 1, size=(2, count))
    control = np.stack(
        [data["control"][i, :, y : y + crop, x : x + crop] for i, y, x in zip(picks, ys, xs, strict=True)]
    )
    rgb = np.stack([data["rgb"][i, :, y : y + crop, x : x + crop] for i, y, x in zip(picks, ys, xs, strict=True)])
    return {"control": control.astype(np.float32) / 255.0, "rgb": rgb.astype(np.float32) / 255.0,
            "identity": data["identity"][picks]}  # fmt: skip
