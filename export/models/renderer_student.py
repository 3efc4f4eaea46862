"""The renderer's student: one step from (head mask M, facial-motion image E_t, identity) to an RGBA frame.

The teacher (renderer_teacher.py) needs many denoising steps; the student is what ships and runs on a CPU. A small
U-Net, fully convolutional (so it trains on crops and renders any size), conditioned on the identity by FiLM in
every block. It works at 1/4 resolution: the control image is folded 4x4 into channels on the way in (pixel
unshuffle) and the output unfolded on the way out (pixel shuffle), which cuts the work 16x against full-size
convolutions (110 ms in PyTorch at full size; 7.2 ms in onnxruntime folded) and suits flat-shaded characters.
Alpha is the head mask itself, so a game can composite the frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from eai_avatar.export.models.renderer_teacher import CONTROL_CHANNELS


@dataclass(frozen=True)
class RendererStudentConfig:
    fold: int = 4  # pixel (un)shuffle factor: the network runs at 1/fold resolution
    channels: tuple[int, ...] = (32, 64, 96)  # at 1/fold, 1/(2 fold), 1/(4 fold) resolution
    identities: int = 4
    identity_dim: int = 32
    # A learned picture per identity (3 x size x size, at the network's working resolution) given to the first
    # block: the control image describes only the head, so the neck, shirt and background come from here. 0: none.
    reference_size: int = 0
    # A full-resolution head after the unfold: two 3x3 convolutions over (coarse RGB, control image, the identity's
    # reference picture resized to the frame) add a correction, so hair edges, eyes and the neck and shoulder lines
    # (which the control does not show) are drawn at full resolution instead of guessed 4x4 pixels at a time; give
    # it a full-size `reference_size` for sharp shoulders. 0: none (the first bundles).
    detail_channels: int = 0

    def __post_init__(self):
        if len(self.channels) < 2:
            raise ValueError("the student needs at least two levels")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RendererStudentConfig:
        data = dict(data)
        data["channels"] = tuple(data["channels"])
        return cls(**data)


class _Block(nn.Module):
    """conv (stride 1 or 2) -> ReLU -> conv, FiLM by the identity, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, identity_dim: int, stride: int = 1):
        super().__init__()
        self.first = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.second = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.film = nn.Linear(identity_dim, 2 * out_channels)

    def forward(self, x: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        h = self.second(torch.relu(self.first(x)))
        scale, shift = self.film(identity)[:, :, None, None].chunk(2, dim=1)
        return torch.relu(h * (1 + scale) + shift)


class RendererStudent(nn.Module):
    """forward(control (B, 4, H, W) in [0, 1], identity (B,) int64) -> RGBA (B, 4, H, W) in [0, 1]."""

    def __init__(self, config: RendererStudentConfig = RendererStudentConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        self.identity_embedding = nn.Embedding(config.identities, config.identity_dim)
        self.fold = nn.PixelUnshuffle(config.fold)
        self.unfold = nn.PixelShuffle(config.fold)
        extra = 3 if config.reference_size else 0
        if config.reference_size:
            size = config.reference_size
            self.references = nn.Parameter(torch.full((config.identities, 3, size, size), 0.5))
        self.encoders = nn.ModuleList(
            [_Block(CONTROL_CHANNELS * config.fold**2 + extra, c[0], config.identity_dim)]
            + [_Block(c[i - 1], c[i], config.identity_dim, stride=2) for i in range(1, len(c))]
        )
        self.decoders = nn.ModuleList(
            [_Block(c[i] + c[i - 1], c[i - 1], config.identity_dim) for i in range(len(c) - 1, 0, -1)]
        )
        self.to_rgb = nn.Conv2d(c[0], 3 * config.fold**2, 1)
        if config.detail_channels:
            self.detail = nn.Sequential(
                nn.Conv2d(3 + CONTROL_CHANNELS + extra, config.detail_channels, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(config.detail_channels, 3, 3, padding=1),
            )

    def forward(self, control: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        code = self.identity_embedding(identity)
        skips, x = [], self.fold(control)
        if self.config.reference_size:
            x = torch.cat([x, self._reference(identity, x.shape[-2:])], dim=1)
        for encoder in self.encoders:
            x = encoder(x, code)
            skips.append(x)
        for decoder, skip in zip(self.decoders, reversed(skips[:-1]), strict=True):
            x = nn.functional.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = decoder(torch.cat([x, skip], dim=1), code)
        logits = self.unfold(self.to_rgb(x))
        if self.config.detail_channels:
            extra = [self._reference(identity, control.shape[-2:])] if self.config.reference_size else []
            logits = logits + self.detail(torch.cat([logits, control, *extra], dim=1))
        rgb = torch.sigmoid(logits)
        return torch.cat([rgb, control[:, :1]], dim=1)  # alpha = the head mask

    def _reference(self, identity: torch.Tensor, size) -> torch.Tensor:
        """The identities' learned pictures at `size` (resized in the graph when the sizes differ)."""
        reference = self.references[identity]
        if reference.shape[-2:] != size:
            reference = nn.functional.interpolate(reference, size=size, mode="bilinear", align_corners=False)
        return reference
