"""CRHMG, the Consistent Random Head Mask Generator of the paper (section 3.1), exactly as described:

- a variational encoder: three convolutions 32 -> 64 -> 128 with ReLU, global average pooling, and a linear
  projection to d = 256 for the mean and the log-variance (its input carries two coordinate channels beside
  the mask, our addition: see MaskEncoder);
- a latent sequence Z = repeat(z1, N) + eps * eta, eta ~ N(0, I) per frame, eps in [0, 1];
- a learned positional encoding and L = 6 Transformer encoder layers with 8 heads (causal attention, our choice:
  the paper does not say; see `generate`);
- a decoder that mirrors the encoder with transposed convolutions 128 -> 64 -> 32 -> 1 and a sigmoid.

Training (our addition; the paper is silent on it). With eta drawn blindly, a reconstruction loss can only learn
the mean motion, a nearly still head (head motion moves a 64x64 mask by about a pixel), so everything collapses
to a static mask. At training, eta is instead the true sequence's displacement in latent space, mu_t - mu_1,
and the Transformer learns to turn displaced latents into the true masks. At inference eta ~ N(0, I) per frame
as in the paper, and a fixed linear map turns it into a displacement with the statistics of a real one: in time,
an AR(1) filter on the steps (coefficient phi, the steps' measured lag-1 autocorrelation) and their running sum
(`temporal_filter`, a lower-triangular matrix); across the latent, S (`noise_shaping`), the square root of the
steps' measured covariance, since head motion lives in a handful of the d = 256 directions. Both are buffers
measured during training. We tried feeding i.i.d. innovations and letting the Transformer integrate them: a
softmax average cannot sum, and the model learned to ignore its noise (0 motion); unshaped noise moved the head
ten times too little. eps in [0, 1] scales the displacement. The encoder stays variational (a KL to N(0, I) on
each frame's posterior) and a per-frame autoencoding term (of the posterior mean) trains the latent space. Both
paths also match the truth's motion magnitude (a pixel of motion is nearly invisible to BCE), and the
Transformer is pre-norm without dropout so a small displacement survives it. The first frame's displacement is
0, so a window starts exactly at its conditioning mask, which lets windows chain without seams.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CRHMGConfig:
    """Architecture of CRHMG. The defaults are the paper's; `mask_size` and `max_frames` are ours."""

    mask_size: int = 64  # masks are mask_size x mask_size; the renderer upsamples
    latent_dim: int = 256  # d in the paper
    encoder_channels: tuple[int, int, int] = (32, 64, 128)
    num_layers: int = 6  # L in the paper
    num_heads: int = 8
    feedforward_dim: int = 512  # not given in the paper; 512 keeps the shipped model small (5.7 M parameters)
    dropout: float = 0.0  # dropout's noise is larger than the one-pixel motion the model must learn
    max_frames: int = 64  # length of the learned positional encoding = the longest window

    def __post_init__(self):
        if self.mask_size % 8 or self.mask_size < 16:
            raise ValueError(f"mask_size must be a multiple of 8 and at least 16, got {self.mask_size}")
        if self.latent_dim % self.num_heads:
            raise ValueError(f"latent_dim {self.latent_dim} must be divisible by num_heads {self.num_heads}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CRHMGConfig:
        data = dict(data)
        data["encoder_channels"] = tuple(data["encoder_channels"])
        return cls(**data)


class MaskEncoder(nn.Module):
    """Encoder_phi: x1 (B, 1, H, W) -> mean, log-variance (B, d)."""

    def __init__(self, config: CRHMGConfig):
        super().__init__()
        c1, c2, c3 = config.encoder_channels
        # CoordConv (our addition): x and y coordinate channels beside the mask. Global average pooling is nearly
        # blind to where things are; with the coordinates it can still measure where the head is.
        size = config.mask_size
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
        self.register_buffer("coordinates", torch.stack([xs, ys])[None], persistent=False)
        self.convs = nn.Sequential(
            nn.Conv2d(3, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c2, c3, 4, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.to_mean = nn.Linear(c3, config.latent_dim)
        self.to_logvar = nn.Linear(c3, config.latent_dim)
        nn.init.constant_(self.to_logvar.bias, -4.0)  # start nearly deterministic, so autoencoding can learn

    def forward(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = torch.cat([masks, self.coordinates.expand(masks.shape[0], -1, -1, -1)], dim=1)
        features = self.pool(self.convs(inputs)).flatten(1)
        return self.to_mean(features), self.to_logvar(features)


class MaskDecoder(nn.Module):
    """Decoder_theta: latents (B, d) -> masks (B, 1, H, W) in [0, 1]; mirrors the encoder."""

    def __init__(self, config: CRHMGConfig):
        super().__init__()
        c1, c2, c3 = config.encoder_channels
        self.base = config.mask_size // 8
        self.channels = c3
        self.project = nn.Linear(config.latent_dim, c3 * self.base * self.base)
        self.deconvs = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        grid = self.project(latents).view(-1, self.channels, self.base, self.base)
        return self.deconvs(grid)


class CRHMG(nn.Module):
    """The whole generator. `generate(z1, eta, eps)` is what is exported and what the runtime runs."""

    def __init__(self, config: CRHMGConfig = CRHMGConfig()):
        super().__init__()
        self.config = config
        self.encoder = MaskEncoder(config)
        self.positional = nn.Parameter(torch.zeros(config.max_frames, config.latent_dim))
        nn.init.normal_(self.positional, std=0.02)
        # Pre-norm layers (our choice; the paper does not say): the residual stream carries the displaced latents
        # straight to the decoder, so the layers learn a correction and cannot wash a small displacement out.
        layer = nn.TransformerEncoderLayer(
            config.latent_dim, config.num_heads, config.feedforward_dim, config.dropout, batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.temporal = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.decoder = MaskDecoder(config)
        # Running statistics of the frame latents' steps (covariance, lag-1 autocorrelation) and the maps they
        # define, which turn eta ~ N(0, I) into a displacement like a real one (see `refresh_noise_shaping`).
        self.register_buffer("step_covariance", torch.zeros(config.latent_dim, config.latent_dim))
        self.register_buffer("step_autocorrelation", torch.zeros(()))
        self.register_buffer("noise_shaping", torch.eye(config.latent_dim))
        self.register_buffer("temporal_filter", self._temporal_filter(config.max_frames, 0.0))

    def encode(self, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) -> mean, log-variance (B, d)."""
        return self.encoder(masks)

    def generate(self, z1: torch.Tensor, eta: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Z = repeat(z1, N) + eps * F eta S (F: temporal filter, S: noise shaping), + positional encoding,
        Transformer, decode.

        Args:
            z1: (B, d) latent of the first mask.
            eta: (B, N, d) noise ~ N(0, I), N <= max_frames.
            eps: (B,) or (B, 1, 1) noise scale in [0, 1].

        Returns:
            masks (B, N, H, W) in [0, 1] and the transformed latents (B, N, d), whose last row is where a
            following window continues from.
        """
        frames = eta.shape[1]
        # The filter is causal, so the first N frames' map is its leading N x N block.
        displacement = self.temporal_filter[:frames, :frames] @ eta @ self.noise_shaping
        return self._transform(z1, displacement, eps)

    def _transform(self, z1: torch.Tensor, displacement: torch.Tensor, eps: torch.Tensor):
        """The paper's generator over a displacement in latent units (shaped noise, or a true sequence's)."""
        batch, frames, _ = displacement.shape
        first_free = torch.ones_like(displacement)
        first_free[:, 0] = 0.0  # the window starts at its conditioning mask
        latents = z1.unsqueeze(1) + eps.reshape(-1, 1, 1) * displacement * first_free
        # Causal attention: frame t sees frames <= t. Frame 0 then depends on z1 alone, so every window starts at
        # its conditioning mask whatever the noise, and the innovations are integrated as a stream would be.
        causal = torch.triu(torch.full((frames, frames), float("-inf"), device=displacement.device), diagonal=1)
        transformed = self.temporal(latents + self.positional[:frames], mask=causal, is_causal=True)
        masks = self.decoder(transformed.reshape(batch * frames, -1))
        size = self.config.mask_size
        return masks.view(batch, frames, size, size), transformed

    @staticmethod
    def _temporal_filter(frames: int, phi: float) -> torch.Tensor:
        """(frames, frames): unit-variance AR(1) steps with coefficient phi, summed; row 0 is zero (no displacement).

        displacement_t = sum_{s=1..t} step_s, step_s = phi * step_{s-1} + sqrt(1 - phi^2) * eta_s (step_1 = eta_1).
        """
        t = torch.arange(frames, dtype=torch.float64)
        lags = (t[:, None] - t[None, :]).clamp_min(0)
        ar = torch.where(t[:, None] >= t[None, :], phi**lags, torch.zeros(()))  # step_t from eta_s, s <= t
        ar[:, 1:] *= (1 - phi**2) ** 0.5
        ar[:, 0] = 0.0
        ar[0] = 0.0  # frame 0 takes no step ...
        ar[1:, 1] = phi ** (t[1:] - 1)  # ... so step_1 = eta_1 starts the AR process at unit variance
        cumulative = torch.tril(torch.ones(frames, frames, dtype=torch.float64))
        return (cumulative @ ar).float()

    @torch.no_grad()
    def refresh_noise_shaping(self) -> None:
        """Rebuild S (the square root of the step covariance) and the temporal filter from the running statistics."""
        if not self.step_covariance.any():
            return
        eigenvalues, eigenvectors = torch.linalg.eigh(self.step_covariance.double())
        root = eigenvectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ eigenvectors.T
        self.noise_shaping.copy_(root.to(self.noise_shaping.dtype))
        phi = float(self.step_autocorrelation.clamp(0.0, 0.99))
        self.temporal_filter.copy_(self._temporal_filter(self.config.max_frames, phi))

    def decode_independently(self, z1: torch.Tensor, eta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The 'independent per-frame noise' baseline: each frame decoded from z1 + eps * S eta_t, no Transformer.

        The noise is shaped as `generate` shapes it, so the baseline differs from CRHMG only by the Transformer.
        """
        batch, frames, _ = eta.shape
        latents = z1.unsqueeze(1) + eps.reshape(-1, 1, 1) * (eta @ self.noise_shaping)
        size = self.config.mask_size
        return self.decoder(latents.reshape(batch * frames, -1)).view(batch, frames, size, size)

    def _measure_steps(self, steps: torch.Tensor) -> None:
        """Update the running covariance and lag-1 autocorrelation of the latent steps (B, N - 1, d)."""
        flat = steps.reshape(-1, steps.shape[-1])
        covariance = flat.T @ flat / len(flat)
        autocorrelation = (steps[:, 1:] * steps[:, :-1]).sum() / steps.pow(2).sum().clamp_min(1e-12)
        if self.step_covariance.any():
            self.step_covariance.mul_(0.99).add_(0.01 * covariance)
            self.step_autocorrelation.mul_(0.99).add_(0.01 * autocorrelation)
        else:
            self.step_covariance.copy_(covariance)
            self.step_autocorrelation.copy_(autocorrelation)

    def forward(self, sequence: torch.Tensor, eps: float = 1.0) -> dict[str, torch.Tensor]:
        """Training pass over true sequences (B, N, H, W): their displacement as eta, reconstructions and the KL."""
        batch, frames, height, width = sequence.shape
        mean, logvar = self.encode(sequence.reshape(batch * frames, 1, height, width))
        # The autoencoding term decodes the posterior mean, not a sample: the posterior's noise (std ~0.1 per
        # dimension) is fifty times a frame's motion (~0.002) and taught the decoder to ignore motion altogether.
        autoencoded = self.decoder(mean).view(batch, frames, height, width)
        mean = mean.view(batch, frames, -1)
        steps = mean[:, 1:] - mean[:, :-1]
        if self.training:
            self._measure_steps(steps.detach())
        displacement = mean - mean[:, :1]
        eps_tensor = torch.full((batch,), eps, device=sequence.device)
        reconstruction, _ = self._transform(mean[:, 0], displacement, eps_tensor)
        kl = 0.5 * (mean.pow(2) + logvar.view(batch, frames, -1).exp() - 1.0 - logvar.view(batch, frames, -1))
        return {"reconstruction": reconstruction, "autoencoded": autoencoded, "kl": kl.sum(-1).mean()}
