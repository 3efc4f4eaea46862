"""Audio2Exp examples from the studio's dataset (or an ingested video, which has the same format).

Each clip gives two examples: the speaker (its voice -> its blendshapes, with the speaker's emotion) and the
listener (silence -> its blendshapes, with the listener's emotion). Listening from silent audio is the paper's
LEED recipe, so one model learns both faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.export.studio.dataset import load_manifest, read_wav
from eai_avatar.runtime.models.audio2exp import silence_features, video_features
from eai_avatar.vocabulary import EMOTIONS, SAMPLE_RATE, emotion_index


def load_examples(dataset: str | Path, split: str, roles: tuple[str, ...] = ("speaker", "listener")) -> list[dict]:
    """Examples of `split`: {"features" (T, D), "blendshapes" (T, 52), "emotion", "role", "voice", "clip"}."""
    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    if split not in manifest["splits"]:
        raise ValueError(f"no split {split!r} in {dataset}; it has {sorted(manifest['splits'])}")
    wanted = set(manifest["splits"][split])
    examples = []
    for record in manifest["clips"]:
        if record["clip_id"] not in wanted:
            continue
        clip = dataset / record["path"]
        speech = None
        for role in roles:
            path = clip / f"{role}.npz"
            if not path.exists():
                continue
            with np.load(path) as arrays:
                blendshapes = arrays["blendshapes"].astype(np.float32)
            frames = len(blendshapes)
            if role == "speaker":
                if speech is None:
                    speech = video_features(read_wav(clip / "audio.wav"), SAMPLE_RATE)
                features = _fit_length(speech, frames)
            else:
                features = np.repeat(silence_features()[None], frames, axis=0)
            emotion = record.get(f"{role}_emotion") or "neutral"
            examples.append({"features": features, "blendshapes": blendshapes, "emotion": emotion_index(emotion),
                             "role": role, "voice": record.get("voice"), "clip": record["clip_id"]})  # fmt: skip
    if not examples:
        raise ValueError(f"the {split!r} split of {dataset} holds no Audio2Exp examples")
    return examples


def _fit_length(features: np.ndarray, frames: int) -> np.ndarray:
    """Features cut or padded with silence to `frames` (a clip's audio may end a fraction of a frame early)."""
    if len(features) >= frames:
        return features[:frames]
    pad = np.repeat(silence_features()[None], frames - len(features), axis=0)
    return np.concatenate([features, pad])


def one_hot(emotion: int) -> np.ndarray:
    vector = np.zeros(len(EMOTIONS), np.float32)
    vector[emotion] = 1.0
    return vector


def sample_windows(examples: list[dict], count: int, frames: int, context: int, rng: np.random.Generator) -> dict:
    """Random training windows: features with `context` frames each side (silence past a clip's ends) and targets.

    Returns {"features" (count, frames + 2 context, D), "emotion" (count, 8), "blendshapes" (count, frames, 52),
    "mask" (count, 52)}: the mask is the example's own (which blendshapes it teaches), else all ones.
    """
    silence = silence_features()
    features, emotions, targets, masks = [], [], [], []
    for index in rng.integers(len(examples), size=count):
        example = examples[index]
        length = len(example["blendshapes"])
        start = int(rng.integers(-frames // 4, max(1, length - frames + frames // 4)))
        window = np.repeat(silence[None], frames + 2 * context, axis=0)
        target = np.empty((frames, example["blendshapes"].shape[1]), np.float32)
        # Outside the clip the face is at rest: its first/last frame held (edges of the clip are silent).
        positions = np.clip(np.arange(start, start + frames), 0, length - 1)
        target[:] = example["blendshapes"][positions]
        lo, hi = max(0, start - context), min(length, start + frames + context)
        window[lo - (start - context) : hi - (start - context)] = example["features"][lo:hi]
        features.append(window)
        emotions.append(one_hot(example["emotion"]))
        targets.append(target)
        masks.append(example.get("mask", np.ones(target.shape[1], np.float32)))
    return {"features": np.stack(features), "emotion": np.stack(emotions), "blendshapes": np.stack(targets),
            "mask": np.stack(masks).astype(np.float32)}  # fmt: skip
