"""Image quality: SSIM (Gaussian window, as Wang et al. 2004) and PSNR, on (B, 3, H, W) tensors in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image (B,), data range 1, over the valid (unpadded) region."""
    window = _window().to(a)
    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = F.conv2d(a, window, groups=3), F.conv2d(b, window, groups=3)
    var_a = F.conv2d(a * a, window, groups=3) - mu_a**2
    var_b = F.conv2d(b * b, window, groups=3) - mu_b**2
    cov = F.conv2d(a * b, window, groups=3) - mu_a * mu_b
    value = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.mean(dim=(1, 2, 3))


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR per image (B,) in dB, data range 1."""
    mse = (a - b).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return 10 * torch.log10(1.0 / mse)
