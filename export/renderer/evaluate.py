"""The student renderer on held-out test clips: SSIM and PSNR against ground truth, and flicker.

Flicker: per clip, the mean absolute frame-to-frame change of the rendered video against the ground truth's
(renders that shimmer where the truth is still score high). The teacher's columns are "not measured" unless a
teacher is given (`eval renderer --teacher DIR`; its DDIM sampling wants a GPU over a whole test split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from eai_avatar.export.models.renderer_student import RendererStudent
from eai_avatar.export.renderer.data import load_frames
from eai_avatar.export.renderer.metrics import psnr, ssim
from eai_avatar.export.renderer.perceptual import perceptual_report


@torch.no_grad()
def render(model: RendererStudent, control: np.ndarray, identity: np.ndarray, batch: int = 16) -> torch.Tensor:
    """uint8 controls (N, 4, H, W) -> RGBA float (N, 4, H, W)."""
    out = []
    for start in range(0, len(control), batch):
        c = torch.from_numpy(control[start : start + batch].astype(np.float32) / 255.0)
        out.append(model(c, torch.from_numpy(identity[start : start + batch])))
    return torch.cat(out)


def _change(frames: torch.Tensor, same: np.ndarray) -> float:
    """Mean absolute frame-to-frame change over consecutive pairs inside one clip's role."""
    return float((frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3)).numpy()[same].mean())


def _scores(rendered: torch.Tensor, truth: torch.Tensor) -> dict:
    return {"ssim": float(ssim(rendered, truth).mean()), "psnr_db": float(psnr(rendered, truth).mean())}


def _downsample(images: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(images, size=(size, size), mode="area") if images.shape[-1] != size else images


def evaluate_student(model: RendererStudent, dataset: Path, split: str = "test", every: int = 5,
                     identity: str | None = None, teacher=None, teacher_steps: int = 20,
                     device: str = "cpu", lpips=None, fid_features=None) -> dict:  # fmt: skip
    """SSIM, PSNR and flicker of the student (and of `teacher`, a (model, names) pair, when given).

    LPIPS and FID are measured when their networks are given (perceptual.py: the user's weights), else their
    entries say "not measured".

    The teacher renders at its own size: it is scored after bilinear upsampling to the ground truth's size, and
    at its own size against the area-downsampled truth, where the student is scored too (`at_teacher_size`).
    """
    model.eval()
    data = load_frames(dataset, split, every, identity=identity)
    rendered = render(model, data["control"], data["identity"])[:, :3]
    truth = torch.from_numpy(data["rgb"].astype(np.float32) / 255.0)
    consecutive = load_frames(dataset, split, every=1, limit=400, identity=identity)
    moving = render(model, consecutive["control"], consecutive["identity"])[:, :3]
    true_moving = torch.from_numpy(consecutive["rgb"].astype(np.float32) / 255.0)
    same = consecutive["identity"][1:] == consecutive["identity"][:-1]
    perceptual = lambda images: perceptual_report(images, truth, lpips, fid_features)  # noqa: E731
    report = {
        "student": {**_scores(rendered, truth), "frame_change": _change(moving, same), **perceptual(rendered)},
        "ground_truth": {"frame_change": _change(true_moving, same)},
        "teacher": "not measured",
        "frames": len(truth), "split": split, "size": list(truth.shape[-2:]), "identity": identity or "all",
    }  # fmt: skip
    if teacher is not None:
        from eai_avatar.export.renderer.data import identity_names
        from eai_avatar.export.renderer.teacher import teacher_render

        network, teacher_names = teacher
        names, size = identity_names(dataset), network.config.image_size
        draw = lambda frames: teacher_render(network, teacher_names, names, frames["control"],  # noqa: E731
                                             frames["identity"], teacher_steps, device=device)  # fmt: skip
        small, small_moving = draw(data), draw(consecutive)
        upsampled = F.interpolate(small, size=tuple(truth.shape[-2:]), mode="bilinear", align_corners=False)
        small_truth = _downsample(truth, size)
        report["teacher"] = {**_scores(upsampled.clamp(0, 1), truth), **perceptual(upsampled.clamp(0, 1)),
                             "frame_change":
                             _change(F.interpolate(small_moving, size=tuple(truth.shape[-2:]), mode="bilinear",
                                                   align_corners=False), same),
                             "ddim_steps": teacher_steps, "image_size": size, "parameters":
                             sum(p.numel() for p in network.parameters())}  # fmt: skip
        report["at_teacher_size"] = {"size": size, "teacher": _scores(small, small_truth),
                                     "student": _scores(_downsample(rendered, size), small_truth)}  # fmt: skip
    return report


def side_by_side(model: RendererStudent, dataset: Path, split: str = "test", count: int = 4,
                 identity: str | None = None, teacher=None, teacher_steps: int = 20,
                 device: str = "cpu") -> np.ndarray:  # fmt: skip
    """Rows of (mask, E_t, ground truth, [teacher,] student) for `count` test frames, uint8 (H * count, W * k, 3).

    The teacher's column (when a (model, names) pair is given) is upsampled from its own size.
    """
    data = load_frames(dataset, split, every=17, limit=count, identity=identity)
    picks = np.linspace(0, len(data["rgb"]) - 1, count).astype(int)
    rendered = render(model, data["control"][picks], data["identity"][picks])[:, :3]
    columns = [rendered]
    if teacher is not None:
        from eai_avatar.export.renderer.data import identity_names
        from eai_avatar.export.renderer.teacher import teacher_render

        network, teacher_names = teacher
        small = teacher_render(network, teacher_names, identity_names(dataset), data["control"][picks],
                               data["identity"][picks], teacher_steps, device=device)  # fmt: skip
        columns.insert(0, F.interpolate(small, size=rendered.shape[-2:], mode="bilinear", align_corners=False))
    columns = [(c.clamp(0, 1).numpy() * 255).round().astype(np.uint8) for c in columns]
    rows = []
    for row, index in enumerate(picks):
        mask = np.repeat(data["control"][index, :1], 3, axis=0)
        motion, truth = data["control"][index, 1:], data["rgb"][index]
        rows.append(np.concatenate([mask, motion, truth, *(c[row] for c in columns)], axis=2).transpose(1, 2, 0))
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
