"""The student renderer on held-out test clips: SSIM and PSNR against ground truth, and flicker.

Flicker: per clip, the mean absolute frame-to-frame change of the rendered video against the ground truth's
(renders that shimmer where the truth is still score high). The teacher's columns are "not measured" until a
teacher is trained (its DDIM sampling is far too slow for the 2-core CPU over a test split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.models.renderer_student import RendererStudent
from eai_avatar.export.renderer.data import load_frames
from eai_avatar.export.renderer.metrics import psnr, ssim


@torch.no_grad()
def render(model: RendererStudent, control: np.ndarray, identity: np.ndarray, batch: int = 16) -> torch.Tensor:
    """uint8 controls (N, 4, H, W) -> RGBA float (N, 4, H, W)."""
    out = []
    for start in range(0, len(control), batch):
        c = torch.from_numpy(control[start : start + batch].astype(np.float32) / 255.0)
        out.append(model(c, torch.from_numpy(identity[start : start + batch])))
    return torch.cat(out)


def evaluate_student(model: RendererStudent, dataset: Path, split: str = "test", every: int = 5) -> dict:
    model.eval()
    data = load_frames(dataset, split, every)
    rendered = render(model, data["control"], data["identity"])[:, :3]
    truth = torch.from_numpy(data["rgb"].astype(np.float32) / 255.0)
    ssims, psnrs = ssim(rendered, truth), psnr(rendered, truth)
    consecutive = load_frames(dataset, split, every=1, limit=400)
    moving = render(model, consecutive["control"], consecutive["identity"])[:, :3]
    true_moving = torch.from_numpy(consecutive["rgb"].astype(np.float32) / 255.0)
    same = consecutive["identity"][1:] == consecutive["identity"][:-1]  # pairs inside one clip's role
    change = lambda frames: (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3)).numpy()[same]  # noqa: E731
    return {
        "student": {"ssim": float(ssims.mean()), "psnr_db": float(psnrs.mean()),
                    "frame_change": float(change(moving).mean())},
        "ground_truth": {"frame_change": float(change(true_moving).mean())},
        "teacher": "not measured",
        "frames": len(truth), "split": split, "size": list(truth.shape[-2:]),
    }  # fmt: skip


def side_by_side(model: RendererStudent, dataset: Path, split: str = "test", count: int = 4) -> np.ndarray:
    """Rows of (mask, E_t, ground truth, student) for `count` test frames, uint8 (H * count, W * 4, 3)."""
    data = load_frames(dataset, split, every=17, limit=count)
    picks = np.linspace(0, len(data["rgb"]) - 1, count).astype(int)
    rendered = render(model, data["control"][picks], data["identity"][picks])[:, :3].numpy()
    rows = []
    for row, index in enumerate(picks):
        mask = np.repeat(data["control"][index, :1], 3, axis=0)
        motion, truth = data["control"][index, 1:], data["rgb"][index]
        student = (rendered[row] * 255).round().astype(np.uint8)
        rows.append(np.concatenate([mask, motion, truth, student], axis=2).transpose(1, 2, 0))
    return np.concatenate(rows, axis=0)


def clip_video(model: RendererStudent, dataset: Path, out: Path, split: str = "test") -> str:
    """MP4 with sound of a test clip's speaker: control (mask + E_t) | ground truth | student."""
    import json

    from eai_avatar.export.studio.dataset import load_manifest, read_wav
    from eai_avatar.media import write_mp4
    from eai_avatar.vocabulary import FPS, SAMPLE_RATE

    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    names = list(manifest["identities"])
    record = next(r for r in manifest["clips"] if r["clip_id"] in set(manifest["splits"][split]))
    clip = dataset / record["path"]
    with np.load(clip / "speaker.npz") as arrays:
        masks, motion, truth = arrays["masks"], arrays["motion"], arrays["frames"]
    control = np.concatenate([masks[:, None], motion.transpose(0, 3, 1, 2)], axis=1)
    identity = np.full(len(control), names.index(record["speaker"]), np.int64)
    rendered = (render(model, control, identity)[:, :3].numpy().transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    overlay = np.maximum(motion, np.repeat(masks[..., None], 3, axis=-1) // 3)  # E_t over a dim mask
    write_mp4(out, np.concatenate([overlay, truth, rendered], axis=2), FPS, read_wav(clip / "audio.wav"), SAMPLE_RATE)
    meta = json.loads((clip / "meta.json").read_text(encoding="utf-8"))
    return f"{record['clip_id']}: {record['speaker']} says {meta['text']!r}; control | ground truth | student"
