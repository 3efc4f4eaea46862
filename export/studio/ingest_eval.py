"""How well ingestion recovers what made a video: a studio character is rendered with known blendshapes and
head poses, encoded to H.264 MP4, ingested, and the recovered values are compared with the truth."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from eai_avatar.vocabulary import BLENDSHAPE_INDEX

CHECKED_SHAPES = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthSmileRight", "browInnerUp")
POSE_NAMES = ("yaw_deg", "pitch_deg", "roll_deg", "tx", "ty", "scale")


def scripted_motion(frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Known blendshapes (frames, 52) and poses (frames, 6): a talking jaw, blinks, smiles, brow raises, head motion."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float32)
    weights = np.zeros((frames, 52), np.float32)
    weights[:, BLENDSHAPE_INDEX["jawOpen"]] = 0.4 * (1 + np.sin(t / 4 + rng.uniform(0, 6)))
    blink = np.zeros(frames, np.float32)
    for start in range(10 + int(rng.integers(10)), frames - 3, 37):
        blink[start : start + 3] = (0.6, 1.0, 0.6)
    weights[:, BLENDSHAPE_INDEX["eyeBlinkLeft"]] = weights[:, BLENDSHAPE_INDEX["eyeBlinkRight"]] = blink
    smile = np.clip(np.sin(t / 15 + rng.uniform(0, 6)), 0, 1) * 0.7
    weights[:, BLENDSHAPE_INDEX["mouthSmileLeft"]] = weights[:, BLENDSHAPE_INDEX["mouthSmileRight"]] = smile
    weights[:, BLENDSHAPE_INDEX["browInnerUp"]] = np.clip(np.sin(t / 11 + rng.uniform(0, 6)), 0, 1) * 0.8
    poses = np.stack(
        [8 * np.sin(t / 20), 5 * np.sin(t / 13), 6 * np.sin(t / 17), 0.03 * np.sin(t / 11), 0.02 * np.cos(t / 9),
         1 + 0.05 * np.sin(t / 25)], axis=1,
    ).astype(np.float32)  # fmt: skip
    return weights, poses


def round_trip(character: str, frames: int = 100, seed: int = 0, image_size: int = 256) -> dict:
    """Render, encode, ingest, compare. Correlation and mean absolute error per checked blendshape and pose axis,
    and the head masks' mean IoU."""
    from eai_avatar.export.studio.characters import CharacterRenderer
    from eai_avatar.export.studio.characters import character as style_of
    from eai_avatar.export.studio.ingest import ingest_video
    from eai_avatar.media import write_mp4
    from eai_avatar.runtime.rig import HeadPose, RigState

    renderer = CharacterRenderer(style_of(character))
    weights, poses = scripted_motion(frames, seed)
    rendered = [
        renderer.render(RigState(w, HeadPose.from_array(p)), (image_size, image_size))
        for w, p in zip(weights, poses, strict=True)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        video = write_mp4(Path(tmp) / "roundtrip.mp4", np.stack([f.rgb for f in rendered]), 25)
        manifest = ingest_video(video, Path(tmp) / "ingested", identity=character, image_size=image_size)
        with np.load(Path(tmp) / "ingested" / manifest["clips"][0]["path"] / "speaker.npz") as arrays:
            recovered, recovered_poses, masks = arrays["blendshapes"], arrays["poses"], arrays["masks"]
    report = {"character": character, "frames": frames, "tracked_fraction": manifest["stats"]["tracked_fraction"]}
    report["blendshapes"] = {
        name: {"correlation": _corr(weights[:, BLENDSHAPE_INDEX[name]], recovered[:, BLENDSHAPE_INDEX[name]]),
               "mae": float(np.abs(weights[:, BLENDSHAPE_INDEX[name]] - recovered[:, BLENDSHAPE_INDEX[name]]).mean())}
        for name in CHECKED_SHAPES
    }  # fmt: skip
    report["pose"] = {
        name: {
            "correlation": _corr(poses[:, k], recovered_poses[:, k]),
            "mae": float(np.abs(poses[:, k] - recovered_poses[:, k]).mean()),
        }
        for k, name in enumerate(POSE_NAMES)
    }
    truth, estimate = np.stack([f.mask for f in rendered]) > 127, masks > 127
    report["mask_iou"] = float(((truth & estimate).sum((1, 2)) / np.maximum((truth | estimate).sum((1, 2)), 1)).mean())
    return report


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])
