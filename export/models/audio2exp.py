"""Audio2Exp: speech features and an emotion -> ARKit blendshapes at 25 fps (paper section 3.3).

The paper fine-tunes EAT; no pretrained EAT can be had offline, so this is our own model with EAT's structure
where it matters: audio drives the face, and the emotion enters as a learned prompt that steers every layer.

- Input: log-mel features (runtime.audio.features), the 4 feature frames of each video frame stacked into one
  vector, normalized with statistics measured on the training set (buffers, so they travel with the weights).
- Emotion prompt: a learned table of one vector per emotion; the input is a distribution over the 8 emotions
  (one-hot, or the ITT's accumulated mixture), so the prompt is the weighted sum of the table's rows. It is added
  to the input projection and sets a per-channel scale and shift (FiLM) in each residual block.
- Temporal stack: residual blocks of dilated 1-D convolutions with *no padding*. The receptive field is finite
  (`context` frames on each side) and the output for a frame depends only on inputs within it, so streaming
  chunks with `context` frames of overlap give exactly the whole utterance's output: the runtime pads the
  ends of a stream with silence features, which is what the model sees around every training clip.
- Output: sigmoid blendshapes in [0, 1], ARKit order (vocabulary.ARKIT_BLENDSHAPES).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Audio2ExpConfig:
    """Architecture of Audio2Exp."""

    mel_bins: int = 80
    features_per_frame: int = 4  # feature frames (10 ms) per video frame (40 ms)
    hidden: int = 192
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2)  # context = sum(dilation) * (kernel - 1) / 2 = 18 frames
    emotions: int = 8
    blendshapes: int = 52
    dropout: float = 0.1

    def __post_init__(self):
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (centred receptive field), got {self.kernel}")
        if not self.dilations:
            raise ValueError("at least one residual block is needed")

    @property
    def input_dim(self) -> int:
        return self.mel_bins * self.features_per_frame

    @property
    def context(self) -> int:
        """Frames of audio needed on each side of an output frame."""
        return sum(self.dilations) * (self.kernel - 1) // 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Audio2ExpConfig:
        data = dict(data)
        data["dilations"] = tuple(data["dilations"])
        return cls(**data)


class ResidualBlock(nn.Module):
    """Dilated convolution (no padding) -> GELU -> emotion FiLM -> 1x1 convolution, plus the cropped input."""

    def __init__(self, hidden: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.crop = dilation * (kernel - 1) // 2
        self.dilated = nn.Conv1d(hidden, hidden, kernel, dilation=dilation)
        self.film = nn.Linear(hidden, 2 * hidden)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)  # starts as the identity: scale 1, shift 0
        self.mix = nn.Conv1d(hidden, hidden, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        """x (B, hidden, T) -> (B, hidden, T - 2 * crop)."""
        h = torch.nn.functional.gelu(self.dilated(x))
        scale, shift = self.film(prompt).unsqueeze(-1).chunk(2, dim=1)
        h = self.mix(self.dropout(h * (1 + scale) + shift))
        residual = x[:, :, self.crop : x.shape[-1] - self.crop]
        return residual + h


class Audio2Exp(nn.Module):
    """forward(features (B, T + 2 * context, input_dim), emotion (B, emotions)) -> blendshapes (B, T, 52)."""

    def __init__(self, config: Audio2ExpConfig = Audio2ExpConfig()):
        super().__init__()
        self.config = config
        self.register_buffer("feature_mean", torch.zeros(config.input_dim))
        self.register_buffer("feature_std", torch.ones(config.input_dim))
        self.emotion_prompts = nn.Parameter(torch.randn(config.emotions, config.hidden) * 0.1)
        self.project = nn.Linear(config.input_dim, config.hidden)
        self.blocks = nn.ModuleList(
            ResidualBlock(config.hidden, config.kernel, d, config.dropout) for d in config.dilations
        )
        self.head = nn.Sequential(nn.GELU(), nn.Linear(config.hidden, config.blendshapes))

    def forward(self, features: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(features, emotion))

    def logits(self, features: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid outputs; training's loss is taken here, where a saturated output still has a gradient."""
        prompt = emotion @ self.emotion_prompts  # (B, hidden): the weighted emotion prompt
        x = self.project((features - self.feature_mean) / self.feature_std) + prompt.unsqueeze(1)
        x = x.transpose(1, 2)
        for block in self.blocks:
            x = block(x, prompt)
        return self.head(x.transpose(1, 2))
