"""Perceptual quality of rendered frames: LPIPS (Zhang et al. 2018, v0.1 with the AlexNet trunk) and FID, measured
when the user supplies the weights and reported as "not measured" otherwise. Nothing is downloaded at run time.

LPIPS takes two files. The trunk is torchvision's ImageNet AlexNet state dict, e.g. the file torchvision caches as
`alexnet-owt-7be5be79.pth`, or `torch.save(torchvision.models.alexnet(weights="IMAGENET1K_V1").state_dict(), path)`;
only its `features.*` entries are used. The heads are the lpips package's `lpips/weights/v0.1/alex.pth` (inside its
wheel), which holds `lin0.model.1.weight` ... `lin4.model.1.weight`.

FID takes an ONNX feature network that maps float32 images (N, 3, H, W) to features (N, D) with a fixed H, W. To
make the standard one, in any environment that has pytorch-fid (and so torchvision; none of this is ours), build
`pytorch_fid.inception.InceptionV3([3])` (its 2048-d pool3 block, FID's own Inception weights, which pytorch-fid
fetches once; it takes images in [0, 1]), wrap it in a module whose forward returns `model(x)[0].flatten(1)`, and
export that with `torch.onnx.export(wrapper, torch.zeros(1, 3, 299, 299), "fid_inception.onnx",
input_names=["images"], dynamic_axes={"images": {0: "n"}}, dynamo=False)`. For a network that wants pixel values in
[0, 255] (such as the TorchScript `pt_inception-2015-12-05` of StyleGAN and clean-fid), pass `input_max=255`.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eai_avatar.import_utils import is_available

NOT_MEASURED = "not measured"

# Output channels of the five convolutions whose ReLU outputs LPIPS compares, and the indices of those ReLUs in
# torchvision's alexnet().features.
ALEX_CHANNELS = (64, 192, 384, 256, 256)
_ALEX_TAPS = (1, 4, 7, 9, 11)
# The smallest side AlexNet's strides and pools leave at least one pixel for (the second max pool needs 3x3).
MIN_LPIPS_SIDE = 31


def _alexnet_features() -> nn.Sequential:
    """torchvision's alexnet().features up to its last ReLU, with the same indices, so the state dict keys match."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(),
    )


class _LinearHead(nn.Module):
    """A 1x1 convolution to one channel, without bias; the lpips package's NetLinLayer."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        # Index 0 stands where the official layer has its training-only dropout, so the key is model.1.weight.
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _unit_channels(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Each pixel's feature vector divided by its length, as the lpips package's normalize_tensor."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def _check_images(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.ndim != 4 or a.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(a.shape)}")


class LPIPS(nn.Module):
    """LPIPS v0.1, AlexNet trunk: images (B, 3, H, W) in [0, 1], H and W >= 31, -> distances (B,).

    Parameter names are torchvision's for the trunk (`features.*`) and the lpips package's for the heads
    (`lin0` ... `lin4`), so both files load unchanged. Parameters are frozen; gradients still flow to the images.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = _alexnet_features()
        self.lin0, self.lin1, self.lin2, self.lin3, self.lin4 = (_LinearHead(c) for c in ALEX_CHANNELS)
        # The official scaling layer (v0.1) maps [-1, 1] inputs to ImageNet-like statistics. Not persistent: it
        # is a constant, and neither weight file holds it.
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_files(cls, trunk: Path, heads: Path) -> LPIPS:
        """Load a torchvision AlexNet state dict (`features.*` kept, the rest ignored) and the lpips package's
        `alex.pth`. ValueError naming the file and its missing or unexpected keys or mismatched shapes."""
        model = cls()
        expected = model.state_dict()
        trunk_state = {k: v for k, v in _load_state_dict(trunk).items() if k.startswith("features.")}
        heads_state = dict(_load_state_dict(heads))
        _check_state(trunk, trunk_state, {k: v.shape for k, v in expected.items() if k.startswith("features.")})
        _check_state(heads, heads_state, {k: v.shape for k, v in expected.items() if k.startswith("lin")})
        model.load_state_dict({**trunk_state, **heads_state})
        return model

    @classmethod
    def from_random(cls, seed: int = 0) -> LPIPS:
        """Random weights for tests and smoke runs; its distances are not a measurement. He-normal trunk, small
        biases, and non-negative heads (the official heads are clamped to >= 0, so distances are >= 0)."""
        model = cls()
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.startswith("lin"):
                    parameter.copy_(torch.rand(parameter.shape, generator=generator))
                else:
                    std = (2.0 / parameter[0].numel()) ** 0.5 if name.endswith("weight") else 0.01
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
        return model

    def _trunk_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in _ALEX_TAPS:
                outputs.append(x)
        return outputs

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        _check_images(a, b)
        if min(a.shape[-2:]) < MIN_LPIPS_SIDE:
            raise ValueError(f"LPIPS needs images of at least {MIN_LPIPS_SIDE}x{MIN_LPIPS_SIDE}, got {tuple(a.shape)}")
        both = (torch.cat([a, b]) * 2 - 1 - self.shift) / self.scale
        heads = (self.lin0, self.lin1, self.lin2, self.lin3, self.lin4)
        distance = a.new_zeros(len(a))
        for head, features in zip(heads, self._trunk_outputs(both), strict=True):
            features_a, features_b = _unit_channels(features).chunk(2)
            # One output channel, so the mean over (C, H, W) is the spatial mean.
            distance = distance + head((features_a - features_b) ** 2).mean(dim=(1, 2, 3))
        return distance


def _load_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    try:
        # map_location: the official alex.pth was saved from CUDA tensors.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as error:
        raise ValueError(f"{path}: not a state dict torch.load(weights_only=True) can read: {error}") from error
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict (parameter name -> tensor), got {type(state).__name__}")
    return state


def _check_state(path: Path, state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Size]) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{key}: file {tuple(state[key].shape)}, expected {tuple(expected[key])}"
        for key in sorted(set(state) & set(expected))
        if state[key].shape != expected[key]
    ]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append(f"shape mismatches [{'; '.join(shapes)}]")
    if problems:
        raise ValueError(f"{path}: {', '.join(problems)}")


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)), computed as pytorch-fid does (scipy's sqrtm,
    offsetting both diagonals by `eps` when the product is singular); without scipy, by eigen-decompositions."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    dims = (mu1.size, mu1.size)
    if mu1.ndim != 1 or mu1.shape != mu2.shape or sigma1.shape != dims or sigma2.shape != dims:
        raise ValueError(
            f"need means (D,) and covariances (D, D) of one D, got {mu1.shape}, {sigma1.shape}, {mu2.shape}, "
            f"{sigma2.shape}"
        )
    if not all(np.isfinite(x).all() for x in (mu1, sigma1, mu2, sigma2)):
        raise ValueError("means and covariances must be finite")
    diff = mu1 - mu2
    if is_available("scipy"):
        trace_sqrt = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    else:
        trace_sqrt = _trace_sqrt_product_symmetric(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    from scipy import linalg

    root = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(root).all():
        offset = np.eye(len(sigma1)) * eps
        root = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(root):
        # Round-off gives a PSD product's square root tiny imaginary parts; large ones mean the input is wrong.
        if not np.allclose(np.diagonal(root).imag, 0, atol=1e-3):
            raise ValueError(f"sqrt(sigma1 sigma2) has an imaginary component of {np.abs(root.imag).max():.3g}")
        root = root.real
    return float(np.trace(root))


def _trace_sqrt_product_symmetric(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    # sigma1 sigma2 has the eigenvalues of sqrt(sigma1) sigma2 sqrt(sigma1), which is symmetric positive
    # semi-definite, so tr(sqrt(sigma1 sigma2)) is the sum of their square roots. Clipping round-off negatives to
    # zero handles singular covariances, so no eps offset is needed.
    values, vectors = np.linalg.eigh(sigma1)
    root1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    inner = root1 @ sigma2 @ root1
    return float(np.sqrt(np.linalg.eigvalsh((inner + inner.T) / 2).clip(min=0)).sum())


def _feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) < 2:
        raise ValueError(f"{name} must be (N, D) with N >= 2, got {matrix.shape}")
    return matrix


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two sets of features (N, D) and (M, D): the Frechet distance of their Gaussian fits."""
    a, b = _feature_matrix(features_a, "features_a"), _feature_matrix(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape} and {b.shape}")
    return frechet_distance(a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False))


class OnnxFeatures:
    """A user's ONNX feature network for FID: float32 images (N, 3, H, W) -> features (N, D), H and W fixed.

    Frames (N, 3, h, w) in [0, 1] are resized (bilinear) to the graph's H, W, scaled to [0, input_max] and run in
    batches; a graph exported with a fixed batch size gets padded batches of exactly that size.

    Args:
        path: the .onnx file.
        batch_size: images per run where the graph's batch axis is dynamic.
        input_max: the value the network takes for white (1 for pytorch-fid's InceptionV3, 255 for
            `pt_inception-2015-12-05`).
        engine_options: passed to the onnxruntime engine (`threads`, `providers`).
    """

    def __init__(self, path: Path, batch_size: int = 32, input_max: float = 1.0, **engine_options) -> None:
        from eai_avatar.runtime.engines import create_engine

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.engine = create_engine(path, "onnxruntime", **engine_options)
        inputs = self.engine.input_spec()
        if len(inputs) != 1:
            raise ValueError(f"{path}: a FID feature network takes one input, this one takes {len(inputs)}")
        spec = inputs[0]
        if spec.dtype != "float32" or len(spec.shape) != 4:
            raise ValueError(f"{path}: input {spec.name!r} must be float32 (N, 3, H, W), got {spec.dtype} {spec.shape}")
        batch, channels, height, width = spec.shape
        if not isinstance(height, int) or not isinstance(width, int):
            raise ValueError(f"{path}: input {spec.name!r} has no fixed H, W ({spec.shape}); export it at a fixed size")
        if isinstance(channels, int) and channels != 3:
            raise ValueError(f"{path}: input {spec.name!r} must have 3 channels, got shape {spec.shape}")
        self.input_name = spec.name
        self.output_name = self.engine.output_spec()[0].name
        self.size = (height, width)
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.batch_size = self.fixed_batch or batch_size
        self.input_max = input_max

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """Frames (N, 3, h, w) in [0, 1] -> features (N, D) as float64."""
        if frames.ndim != 4 or frames.shape[1] != 3 or len(frames) == 0:
            raise ValueError(f"frames must be (N, 3, H, W) with N >= 1, got {tuple(frames.shape)}")
        chunks = []
        for start in range(0, len(frames), self.batch_size):
            batch = frames[start : start + self.batch_size].detach().to("cpu", torch.float32)
            count = len(batch)
            if tuple(batch.shape[-2:]) != self.size:
                batch = F.interpolate(batch, size=self.size, mode="bilinear", align_corners=False)
            if self.fixed_batch is not None and count < self.fixed_batch:
                batch = torch.cat([batch, batch.new_zeros(self.fixed_batch - count, *batch.shape[1:])])
            outputs = self.engine.run({self.input_name: (batch * self.input_max).numpy()})
            chunks.append(outputs[self.output_name][:count].reshape(count, -1))
        return np.concatenate(chunks).astype(np.float64)


@torch.no_grad()
def perceptual_report(
    rendered: torch.Tensor,
    truth: torch.Tensor,
    lpips: LPIPS | None,
    fid_features: OnnxFeatures | None,
    batch_size: int = 16,
) -> dict:
    """{"lpips": mean LPIPS over frame pairs, "fid": FID of rendered against truth}, each "not measured" where its
    network is None. rendered and truth: float tensors (N, 3, H, W) in [0, 1], frame i of one against frame i of
    the other."""
    _check_images(rendered, truth)
    report: dict[str, float | str] = {"lpips": NOT_MEASURED, "fid": NOT_MEASURED}
    if lpips is not None:
        device = next(lpips.parameters()).device
        distances = [
            lpips(rendered[i : i + batch_size].to(device), truth[i : i + batch_size].to(device)).cpu()
            for i in range(0, len(rendered), batch_size)
        ]
        report["lpips"] = float(torch.cat(distances).mean())
    if fid_features is not None:
        # FID on a few hundred frames is biased high (the bias shrinks roughly as 1/N, and 2048-d covariances from
        # fewer frames are rank-deficient): compare FIDs only at equal frame counts, never with papers' 50k-image
        # values.
        report["fid"] = fid(fid_features(rendered), fid_features(truth))
    return report
