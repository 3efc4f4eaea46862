"""CRHMG against the paper's metrics on held-out sequences, with its two baselines in the same run.

Methods, all started from each test sequence's true first mask and run for its length:
- `crhmg`: windowed generation (runtime.models.head_masks), eps by role, its free masks (the paper's);
- `crhmg_identity`: the same streams with the character's own first mask posed as each generated mask (what the
  runtime emits: `keep_identity`);
- `static`: the first mask repeated (the paper's "w/o CRHMG");
- `independent`: each frame decoded from z1 + eps * eta_t with no Transformer (independent per-frame noise).

Metrics (definitions ours where the paper is terse):
- temporal consistency error (Table 2): per sequence, |mean - mean_true| + |std - std_true| of the per-frame motion
  magnitude m_t = mean |x_{t+1} - x_t|, averaged; lower is better;
- SID (Learning to Listen): per sequence, the entropy (nats) of the histogram of its frames' clusters, k-means
  (k = 8) fitted on the true test frames' mask features (centroid x, y, sqrt(area), axis angle); averaged;
- Var: per sequence, the temporal variance of the standardized mask features, summed; averaged;
- IoU of consecutive (binarized) masks at window seams and inside windows: seams must not stand out;
- identity (export/crhmg/identity.py): a long stream from each studio character's first mask, the new character
  eli (whom training never saw) included; the share of frames whose normalised silhouette is nearest the
  character's own, and the IoU with it.
"""

from __future__ import annotations

import numpy as np
import torch

from eai_avatar.export.crhmg.data import load_sequences
from eai_avatar.export.crhmg.identity import character_first_masks, identity_of_stream
from eai_avatar.export.models.crhmg import CRHMG
from eai_avatar.runtime.models.head_masks import DEFAULT_EPS, HeadMaskGenerator


def torch_callables(model: CRHMG, independent: bool = False):
    """encode / generate functions over numpy arrays for HeadMaskGenerator."""

    @torch.no_grad()
    def encode(masks: np.ndarray) -> np.ndarray:
        return model.encode(torch.from_numpy(masks))[0].numpy()

    @torch.no_grad()
    def generate(z1: np.ndarray, eta: np.ndarray, eps: np.ndarray) -> np.ndarray:
        args = torch.from_numpy(z1), torch.from_numpy(eta), torch.from_numpy(eps)
        if independent:
            return model.decode_independently(*args).numpy()
        return model.generate(*args)[0].numpy()

    return encode, generate


def motion_magnitude(masks: np.ndarray) -> np.ndarray:
    return np.abs(np.diff(masks, axis=0)).mean(axis=(1, 2))


def mask_features(masks: np.ndarray) -> np.ndarray:
    """(T, 4): centroid x, y and sqrt(area) as fractions of the size, principal-axis angle in radians."""
    frames, height, width = masks.shape
    ys, xs = np.mgrid[:height, :width] / np.array([height, width])[:, None, None]
    area = masks.sum(axis=(1, 2)) + 1e-6
    cx, cy = (masks * xs).sum((1, 2)) / area, (masks * ys).sum((1, 2)) / area
    mu20 = (masks * (xs - cx[:, None, None]) ** 2).sum((1, 2)) / area
    mu02 = (masks * (ys - cy[:, None, None]) ** 2).sum((1, 2)) / area
    mu11 = (masks * (xs - cx[:, None, None]) * (ys - cy[:, None, None])).sum((1, 2)) / area
    angle = 0.5 * np.arctan2(2 * mu11, mu20 - mu02)
    return np.stack([cx, cy, np.sqrt(area / (height * width)), angle], axis=1)


def _kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = points[rng.choice(len(points), size=k, replace=False)]
    for _ in range(iterations):
        labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.stack([points[labels == j].mean(0) if (labels == j).any() else centres[j] for j in range(k)])
    return centres


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / max((a | b).sum(), 1))


def evaluate_crhmg(model: CRHMG, dataset, split: str = "test", seed: int = 0, window: int = 32, anchor: float = 0.1,
                   eps_by_role: dict | None = None, max_sequences: int | None = None,
                   identity_frames: int = 15_000, long_frames: int = 15_000) -> dict:  # fmt: skip
    model.eval()
    eps_by_role = eps_by_role or DEFAULT_EPS
    sequences = load_sequences(dataset, split, model.config.mask_size)[:max_sequences]
    d = model.config.latent_dim
    generators = {
        "crhmg": HeadMaskGenerator(*torch_callables(model), d, window, anchor, keep_identity=False),
        "crhmg_identity": HeadMaskGenerator(*torch_callables(model), d, window, anchor, keep_identity=True),
        "independent": HeadMaskGenerator(
            *torch_callables(model, independent=True), d, window, anchor, keep_identity=False
        ),  # fmt: skip
    }
    true_features = np.concatenate([mask_features(s["masks"]) for s in sequences])
    mean, std = true_features.mean(0), true_features.std(0) + 1e-6
    centres = _kmeans((true_features - mean) / std, 8)

    def sid(masks):
        labels = np.argmin(((((mask_features(masks) - mean) / std)[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        p = np.bincount(labels, minlength=len(centres)) / len(labels)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def var(masks):
        return float((((mask_features(masks) - mean) / std).var(axis=0)).sum())

    results = {
        name: {"tc": [], "motion": [], "sid": [], "var": []}
        for name in ("ground_truth", "crhmg", "crhmg_identity", "static", "independent")
    }
    rng = np.random.default_rng(seed)
    for sequence in sequences:
        truth = sequence["masks"]
        frames, eps = len(truth), eps_by_role[sequence["role"]]
        outputs = {"ground_truth": truth, "static": np.repeat(truth[:1], frames, axis=0)}
        for name, generator in generators.items():
            outputs[name] = generator.next(generator.start(truth[0]), frames, eps, rng)
        m_true = motion_magnitude(truth)
        for name, masks in outputs.items():
            m = motion_magnitude(masks)
            results[name]["tc"].append(abs(m.mean() - m_true.mean()) + abs(m.std() - m_true.std()))
            results[name]["motion"].append(m.mean())
            results[name]["sid"].append(sid(masks))
            results[name]["var"].append(var(masks))
    report = {
        name: {"temporal_consistency_error": float(np.mean(v["tc"])), "motion_magnitude": float(np.mean(v["motion"])),
               "sid": float(np.mean(v["sid"])), "var": float(np.mean(v["var"]))}
        for name, v in results.items()
    }  # fmt: skip
    # Seams: three windows from each first mask, as the runtime streams them.
    seam, inside = [], []
    generator = generators["crhmg_identity"]
    step = generator.step
    for sequence in sequences:
        masks = generator.next(generator.start(sequence["masks"][0]), 3 * step + 1, eps_by_role[sequence["role"]], rng)
        for t in range(len(masks) - 1):
            # the first window gives frames 0..step, each later one `step` new frames: seams at t = k * step
            (seam if t % step == 0 and t > 0 else inside).append(_iou(masks[t], masks[t + 1]))
    report["seams"] = {"iou_at_seams": float(np.mean(seam)), "iou_inside_windows": float(np.mean(inside))}
    report["long_stream"] = long_stream(generator, sequences, eps_by_role, rng, long_frames)
    if identity_frames:
        report["identity"] = identity(generators, character_first_masks(model.config.mask_size), identity_frames,
                                      eps_by_role["speak"], seed)  # fmt: skip
    report["sequences"] = len(sequences)
    report["settings"] = {"split": split, "window": window, "anchor": anchor, "eps": eps_by_role, "seed": seed}
    return report


def identity(generators: dict[str, HeadMaskGenerator], first_masks: dict[str, np.ndarray], frames: int, eps: float,
             seed: int = 0) -> dict:  # fmt: skip
    """{method: {character: identity_of_stream}} for a `frames`-long speaking stream from each character's first
    mask, free CRHMG masks against the runtime's identity-kept ones (same seed, so the same motion)."""
    report = {}
    for method in ("crhmg", "crhmg_identity"):
        generator = generators[method]
        report[method] = {}
        for name, first in first_masks.items():
            masks = generator.next(generator.start(first), frames, eps, np.random.default_rng(seed))
            report[method][name] = identity_of_stream(masks, name, first_masks)
    return report


def long_stream(generator: HeadMaskGenerator, sequences: list[dict], eps_by_role: dict, rng: np.random.Generator,
                frames: int = 15_000) -> dict:  # fmt: skip
    """A 10-minute stream (15,000 frames at 25 fps) per role: seams, and how far the head wanders from its start."""
    results = {}
    for role in ("speak", "listen"):
        first = next(s["masks"][0] for s in sequences if s["role"] == role)
        state = generator.start(first)
        masks = generator.next(state, frames, eps_by_role[role], rng)
        features = mask_features(masks)
        step = generator.step  # the first window gives `step + 1` frames, each later one `step`
        ious = [_iou(masks[t], masks[t + 1]) for t in range(0, len(masks) - 1, 7)]
        seam = [_iou(masks[t], masks[t + 1]) for t in range(step, len(masks) - 1, step)]
        results[role] = {
            "frames": len(masks),
            "iou_at_seams": float(np.mean(seam)), "iou_sampled_frames": float(np.mean(ious)),
            "max_centroid_shift": float(np.abs(features[:, :2] - features[0, :2]).max()),  # fraction of the frame
            "area_ratio_range": [float(features[:, 2].min() / features[0, 2]),
                                 float(features[:, 2].max() / features[0, 2])],
            "motion_first_minute": float(motion_magnitude(masks[:1500]).mean()),
            "motion_last_minute": float(motion_magnitude(masks[-1500:]).mean()),
        }  # fmt: skip
    return results


def to_markdown(report: dict) -> str:
    lines = [
        f"CRHMG on {report['sequences']} held-out mask sequences (window {report['settings']['window']}):", "",
        "| method | temporal consistency error (lower is better) | motion magnitude | SID | Var |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    names = {"ground_truth": "ground truth", "crhmg": "CRHMG, free masks (the paper's)",
             "crhmg_identity": "**CRHMG, the character's own mask posed (runtime)**",
             "static": "static first mask (w/o CRHMG)", "independent": "independent per-frame noise"}  # fmt: skip
    for key, label in names.items():
        r = report[key]
        lines.append(f"| {label} | {r['temporal_consistency_error']:.4f} | {r['motion_magnitude']:.4f} | "
                     f"{r['sid']:.3f} | {r['var']:.3f} |")  # fmt: skip
    seams = report["seams"]
    lines += ["", f"Consecutive-mask IoU: {seams['iou_at_seams']:.4f} at window seams, "
                  f"{seams['iou_inside_windows']:.4f} inside windows."]  # fmt: skip
    if "identity" in report:
        any_method = next(iter(report["identity"].values()))
        frames = next(iter(any_method.values()))["frames"]
        lines += ["", f"Identity over a {frames / 25 / 60:g}-minute speaking stream from each character's first mask "
                      "(eli: never in training). Nearest own: share of frames whose silhouette (translation and scale "
                      "removed) is nearest the character's own first mask; IoU: with it (goals >= 0.99 and >= 0.95).",
                  "", "| character | free masks: nearest own | free: IoU min / mean | own mask posed: nearest own | "
                      "posed: IoU min / mean | nearest other character's mask (IoU) |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, free in report["identity"]["crhmg"].items():
            kept = report["identity"]["crhmg_identity"][name]
            free_iou, kept_iou = (f"{r['iou_own_min']:.3f} / {r['iou_own_mean']:.3f}" for r in (free, kept))
            lines.append(f"| {name} | {free['nearest_own']:.3f} | {free_iou} | **{kept['nearest_own']:.3f}** | "
                         f"**{kept_iou}** | {kept['closest_other_reference_iou']:.3f} |")  # fmt: skip
    for role, r in report.get("long_stream", {}).items():
        lines.append(f"10-minute stream ({r['frames']} frames, {role}): IoU {r['iou_at_seams']:.4f} at seams vs "
                     f"{r['iou_sampled_frames']:.4f} overall; centroid within {r['max_centroid_shift']:.3f} of the "
                     f"frame of its start; area {r['area_ratio_range'][0]:.2f}-{r['area_ratio_range'][1]:.2f}x; "
                     f"motion {r['motion_first_minute']:.4f} in the first minute, "
                     f"{r['motion_last_minute']:.4f} in the last.")  # fmt: skip
    return "\n".join(lines)


def mask_strip(model: CRHMG, dataset, split: str = "test", frames: int = 12, every: int = 4) -> np.ndarray:
    """Rows: two seeds x (speaking, listening), each from a test sequence's first mask; every `every`-th frame."""
    sequences = load_sequences(dataset, split, model.config.mask_size)
    starts = {role: next(s["masks"][0] for s in sequences if s["role"] == role) for role in ("speak", "listen")}
    generator = HeadMaskGenerator(*torch_callables(model), model.config.latent_dim)
    rows = []
    for seed in (0, 1):
        for role, first in starts.items():
            masks = generator.next(
                generator.start(first), frames * every, DEFAULT_EPS[role], np.random.default_rng(seed)
            )
            rows.append(np.concatenate(list(masks[::every]), axis=1))
    strip = np.concatenate(rows, axis=0)
    return (np.clip(strip, 0, 1) * 255).astype(np.uint8)
