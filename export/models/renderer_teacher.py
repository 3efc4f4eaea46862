"""The renderer's teacher (paper section 3.5): a ControlNet-guided diffusion model p(x0 | M, E).

- eps_theta is a diffusers `UNet2DConditionModel` steered by a `ControlNetModel`, both built from config (no hub);
  the control image is the head mask M (1 channel) and the facial-motion image E_t (3 channels), stacked.
- Diffusion runs in pixel space at `image_size` (no VAE: the studio's frames are small and flat-shaded), so the
  ControlNet's conditioning embedding keeps full resolution (one block, no downsampling), where Stable
  Diffusion's would shrink the control image 8x to its latent size.
- The paper trains one model per identity; the cross-attention context is a learned token per identity, so one
  network can also hold several.
- Forward process eq. 11 (linear betas), loss eq. 12 (noise prediction, MSE); sampling with DDIM in a few steps
  (eq. 13's reverse process). The one-step student distilled from this teacher is what ships.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

CONTROL_CHANNELS = 4  # head mask + facial-motion image E_t (RGB)


@dataclass(frozen=True)
class RendererTeacherConfig:
    """Architecture and noise schedule of the teacher; the defaults are the 2-core CPU preset."""

    image_size: int = 64
    block_channels: tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 1
    norm_groups: int = 32
    attention_head_dim: int = 8
    context_dim: int = 128  # size of an identity token (cross-attention context)
    identities: int = 1
    train_timesteps: int = 1000
    beta_start: float = 1e-4  # eq. 11's linear schedule, as DDPM
    beta_end: float = 0.02

    def __post_init__(self):
        if self.image_size % 2 ** (len(self.block_channels) - 1):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2^{len(self.block_channels) - 1}")
        if any(c % self.norm_groups for c in self.block_channels):
            raise ValueError(f"every block's channels must be divisible by norm_groups {self.norm_groups}")
        if self.identities < 1:
            raise ValueError(f"identities must be at least 1, got {self.identities}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RendererTeacherConfig:
        data = dict(data)
        data["block_channels"] = tuple(data["block_channels"])
        return cls(**data)


class RendererTeacher(nn.Module):
    """eps_theta(x_t, t, M, E) with a ControlNet; `loss` is eq. 12, `sample` denoises from noise with DDIM."""

    def __init__(self, config: RendererTeacherConfig = RendererTeacherConfig()):
        super().__init__()
        from diffusers import ControlNetModel, DDIMScheduler, DDPMScheduler, UNet2DConditionModel

        self.config = config
        levels = len(config.block_channels)
        # The coarsest levels attend to the identity token; the finest stays convolutional (cheap at full size).
        down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (levels - 1)
        up = ("CrossAttnUpBlock2D",) * (levels - 1) + ("UpBlock2D",)
        self.unet = UNet2DConditionModel(
            sample_size=config.image_size, in_channels=3, out_channels=3, down_block_types=down,
            up_block_types=up, block_out_channels=config.block_channels, layers_per_block=config.layers_per_block,
            norm_num_groups=config.norm_groups, cross_attention_dim=config.context_dim,
            attention_head_dim=config.attention_head_dim,
        )  # fmt: skip
        self.controlnet = ControlNetModel.from_unet(
            self.unet, conditioning_channels=CONTROL_CHANNELS, conditioning_embedding_out_channels=(16,)
        )
        self.identity_tokens = nn.Parameter(torch.randn(config.identities, config.context_dim) * 0.02)
        schedule = {"num_train_timesteps": config.train_timesteps, "beta_start": config.beta_start,
                    "beta_end": config.beta_end, "beta_schedule": "linear", "clip_sample": True}  # fmt: skip
        self.noise_schedule = DDPMScheduler(**schedule)
        self._ddim_config = schedule
        self._ddim_class = DDIMScheduler

    def predict_noise(self, noisy: torch.Tensor, timesteps: torch.Tensor, control: torch.Tensor,
                      identity: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """eps_theta: noisy (B, 3, H, W) in [-1, 1]-ish, timesteps (B,), control (B, 4, H, W) in [0, 1]."""
        context = self.identity_tokens[identity].unsqueeze(1)  # (B, 1, context_dim)
        down, middle = self.controlnet(
            noisy, timesteps, encoder_hidden_states=context, controlnet_cond=control, return_dict=False
        )
        return self.unet(
            noisy, timesteps, encoder_hidden_states=context, down_block_additional_residuals=down,
            mid_block_additional_residual=middle,
        ).sample  # fmt: skip

    def loss(self, frames: torch.Tensor, control: torch.Tensor, identity: torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
        """Eq. 12 on clean frames (B, 3, H, W) in [0, 1]: || eps - eps_theta(x_t, t, M, E) ||^2."""
        x0 = frames * 2.0 - 1.0
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        timesteps = torch.randint(0, self.config.train_timesteps, (len(x0),), generator=generator, device=x0.device)
        noisy = self.noise_schedule.add_noise(x0, noise, timesteps)
        return F.mse_loss(self.predict_noise(noisy, timesteps, control, identity), noise)

    @torch.no_grad()
    def sample(
        self, control: torch.Tensor, identity: torch.Tensor, steps: int = 20,
        generator: torch.Generator | None = None, noise: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Frames (B, 3, H, W) in [0, 1] denoised from Gaussian noise with DDIM in `steps` steps.

        DDIM is deterministic given its starting noise: pass the same `noise` (1, 3, H, W) for every frame of a
        video and consecutive frames differ only where the control does, instead of shimmering.
        """
        if not 1 <= steps <= self.config.train_timesteps:
            raise ValueError(f"steps must be in 1..{self.config.train_timesteps}, got {steps}")
        scheduler = self._ddim_class(**self._ddim_config)
        scheduler.set_timesteps(steps)
        size = self.config.image_size
        if noise is None:
            x = torch.randn((len(control), 3, size, size), generator=generator, device=control.device)
        else:
            x = noise.to(control).expand(len(control), 3, size, size).clone()
        for t in scheduler.timesteps:
            timesteps = torch.full((len(x),), int(t), device=x.device)
            x = scheduler.step(self.predict_noise(x, timesteps, control, identity), t, x).prev_sample
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0)
