"""Renderer examples from the studio's dataset: control image (mask + E_t) -> RGB frame, per identity.

A frame pack (`pack_frames`, `eai-avatar data frames`) is one compressed .npz of a split's examples: small enough
to carry to a GPU machine that has no copy of the dataset, and read by `load_frames` like the dataset itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.export.studio.dataset import load_manifest

PACK_FORMAT = "eai-avatar-frame-pack"


def _is_pack(path: Path) -> bool:
    return path.suffix == ".npz"


def identity_names(dataset: str | Path) -> list[str]:
    dataset = Path(dataset)
    if _is_pack(dataset):
        with np.load(dataset) as arrays:
            return [str(name) for name in arrays["identity_names"]]
    return list(load_manifest(dataset)["identities"])


def load_frames(dataset: str | Path, split: str, every: int = 10, limit: int | None = None,
                identity: str | None = None) -> dict:  # fmt: skip
    """Every `every`-th frame of both roles of each clip in `split` (only `identity`'s frames if given).

    Returns {"control" (N, 4, H, W) uint8, "rgb" (N, 3, H, W) uint8, "identity" (N,) int64}; uint8 keeps a
    200-clip dataset's sample in about a gigabyte. Identity indices follow `identity_names(dataset)`.
    """
    dataset = Path(dataset)
    if _is_pack(dataset):
        return _load_pack(dataset, split, every, limit, identity)
    manifest = load_manifest(dataset)
    names = list(manifest["identities"])
    if identity is not None and identity not in names:
        raise ValueError(f"unknown identity {identity!r}; {dataset} holds {', '.join(names)}")
    wanted = set(manifest["splits"].get(split, []))
    controls, frames, identities = [], [], []
    for record in manifest["clips"]:
        if record["clip_id"] not in wanted:
            continue
        for role, name in (("speaker", record["speaker"]), ("listener", record["listener"])):
            path = dataset / record["path"] / f"{role}.npz"
            if not path.exists() or name not in names or (identity is not None and name != identity):
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
        raise ValueError(f"the {split!r} split of {dataset} holds no frames" + (f" of {identity}" if identity else ""))
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


def pack_frames(dataset: str | Path, out: str | Path, splits: dict[str, tuple[int, int | None]],
                identity: str | None = None) -> dict:  # fmt: skip
    """Write the chosen splits' frames (split -> (every n-th frame, at most this many)) into one compressed .npz.

    Returns the number of frames packed per split.
    """
    out = Path(out)
    if not _is_pack(out):
        raise ValueError(f"a frame pack is an .npz file, got {out}")
    arrays, counts = {"format": np.array(PACK_FORMAT), "identity_names": np.array(identity_names(dataset))}, {}
    for split, (every, limit) in splits.items():
        data = load_frames(dataset, split, every, limit, identity=identity)
        if limit:
            data = {key: value[:limit] for key, value in data.items()}
        counts[split] = len(data["rgb"])
        arrays.update({f"{split}/{key}": value for key, value in data.items()})
        arrays[f"{split}/every"] = np.array(every)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return counts


def _load_pack(path: Path, split: str, every: int, limit: int | None, identity: str | None) -> dict:
    with np.load(path) as arrays:
        if "format" not in arrays.files or str(arrays["format"]) != PACK_FORMAT:
            raise ValueError(f"{path} is not a frame pack (make one with `eai-avatar data frames`)")
        names = [str(name) for name in arrays["identity_names"]]
        if f"{split}/rgb" not in arrays.files:
            packed = sorted({key.split("/")[0] for key in arrays.files if "/" in key})
            raise ValueError(f"the frame pack {path} holds no {split!r} split (it holds {', '.join(packed)})")
        data = {key: arrays[f"{split}/{key}"] for key in ("control", "rgb", "identity")}
        packed_every = int(arrays[f"{split}/every"])
    if identity is not None:
        if identity not in names:
            raise ValueError(f"unknown identity {identity!r}; {path} holds {', '.join(names)}")
        keep = data["identity"] == names.index(identity)
        data = {key: value[keep] for key, value in data.items()}
    # The pack holds every `packed_every`-th frame; thin it to about every `every`-th (never finer than packed).
    data = {key: value[:: max(1, every // packed_every)] for key, value in data.items()}
    if limit:
        data = {key: value[:limit] for key, value in data.items()}
    if not len(data["rgb"]):
        raise ValueError(f"the {split!r} split of {path} holds no frames" + (f" of {identity}" if identity else ""))
    return data
