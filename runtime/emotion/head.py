"""The trained part of C: per modality m a linear map (W_m, b_m) over standardized features.

With f the concatenation of the modalities' features, W^T f + b (paper eq. 8) is the sum of the
per-modality logits, so a head trained on text alone stays valid, and a modality fuses in by adding its
block. Stored as .npz (no pickle) with the labels, each block's feature name and training metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eai_avatar.vocabulary import EMOTIONS

DEFAULT_HEAD_PATH = Path(__file__).resolve().parent.parent / "assets" / "emotion_head.npz"


@dataclass
class ModalityWeights:
    """One modality's block: logits = ((f - mean) / scale) @ weight + bias."""

    feature_name: str
    weight: np.ndarray  # (d, k)
    bias: np.ndarray  # (k,)
    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)

    def __post_init__(self):
        d, k = self.weight.shape
        if self.bias.shape != (k,) or self.mean.shape != (d,) or self.scale.shape != (d,):
            raise ValueError(
                f"{self.feature_name}: weight {self.weight.shape} needs bias ({k},), mean and scale ({d},); got "
                f"{self.bias.shape}, {self.mean.shape}, {self.scale.shape}"
            )
        if np.any(self.scale <= 0):
            raise ValueError(f"{self.feature_name}: scale must be positive")

    @property
    def dim(self) -> int:
        return self.weight.shape[0]

    def logits(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"{self.feature_name}: features must be (n, {self.dim}), got {features.shape}")
        return ((features - self.mean) / self.scale) @ self.weight + self.bias


@dataclass
class EmotionHead:
    modalities: dict[str, ModalityWeights]
    labels: tuple[str, ...] = EMOTIONS
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if tuple(self.labels) != EMOTIONS:
            raise ValueError(f"the head's labels {list(self.labels)} are not the emotion set {list(EMOTIONS)}")
        if "text" not in self.modalities:
            raise ValueError("an emotion head needs a 'text' block")
        for name, block in self.modalities.items():
            if block.weight.shape[1] != len(self.labels):
                raise ValueError(f"block {name!r} has {block.weight.shape[1]} outputs, not {len(self.labels)}")

    def logits(self, features: dict[str, np.ndarray]) -> np.ndarray:
        """Sum of the blocks' logits for the modalities present in `features` (text is required)."""
        unknown = set(features) - set(self.modalities)
        if unknown:
            raise ValueError(
                f"this emotion head has no block for {sorted(unknown)} (it has {sorted(self.modalities)}); "
                "train one that includes that modality"
            )
        if "text" not in features:
            raise ValueError("text features are required")
        return sum(self.modalities[name].logits(value) for name, value in features.items())

    def save(self, path: str | Path) -> None:
        arrays = {"labels": np.array(self.labels), "metadata": np.array(json.dumps(self.metadata))}
        for name, block in self.modalities.items():
            arrays |= {
                f"{name}/feature_name": np.array(block.feature_name),
                f"{name}/weight": block.weight.astype(np.float32),
                f"{name}/bias": block.bias.astype(np.float32),
                f"{name}/mean": block.mean.astype(np.float32),
                f"{name}/scale": block.scale.astype(np.float32),
            }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a file handle keeps numpy from appending ".npz" to the name
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_HEAD_PATH) -> EmotionHead:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"emotion head not found: {path} (train one: eai-avatar train emotion)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not an emotion head (.npz): {exc}") from exc
        names = sorted({key.split("/")[0] for key in arrays if "/" in key})
        try:
            modalities = {
                name: ModalityWeights(
                    feature_name=str(arrays[f"{name}/feature_name"]),
                    weight=arrays[f"{name}/weight"],
                    bias=arrays[f"{name}/bias"],
                    mean=arrays[f"{name}/mean"],
                    scale=arrays[f"{name}/scale"],
                )
                for name in names
            }
            return cls(modalities, tuple(str(x) for x in arrays["labels"]), json.loads(str(arrays["metadata"])))
        except KeyError as exc:
            raise ValueError(f"{path} lacks the array {exc.args[0]!r}; is it an emotion head?") from None
