"""LPIPS and FID with small random weights: the code paths users' real weights take."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eai_avatar.export.renderer import perceptual
from eai_avatar.export.renderer.perceptual import (
    LPIPS,
    MIN_LPIPS_SIDE,
    NOT_MEASURED,
    OnnxFeatures,
    fid,
    frechet_distance,
    perceptual_report,
)


def smooth_images(count: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Low-frequency colour fields in [0.2, 0.8], so added noise is what distinguishes two images."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 4, 4, generator=generator)
    return 0.2 + 0.6 * F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def lpips_model() -> LPIPS:
    return LPIPS.from_random(seed=0)


# ---- LPIPS ----


def test_lpips_of_an_image_with_itself_is_zero(lpips_model):
    x = smooth_images(3)
    distance = lpips_model(x, x)
    assert distance.shape == (3,)
    assert torch.equal(distance, torch.zeros(3))


def test_lpips_grows_with_noise(lpips_model):
    x = smooth_images(4)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    small = lpips_model(x, (x + 0.02 * noise).clamp(0, 1))
    large = lpips_model(x, (x + 0.2 * noise).clamp(0, 1))
    assert (small > 0).all()
    assert (small < large).all()


def test_lpips_checks_image_shapes(lpips_model):
    x = smooth_images(2, size=MIN_LPIPS_SIDE)
    assert lpips_model(x, x).shape == (2,)
    with pytest.raises(ValueError, match="at least 31x31"):
        lpips_model(x[..., :-1, :-1], x[..., :-1, :-1])
    with pytest.raises(ValueError, match="same shape"):
        lpips_model(x, x[:1])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        lpips_model(x[:, :1], x[:, :1])


def test_lpips_parameter_names_match_torchvision_and_lpips(lpips_model):
    keys = set(lpips_model.state_dict())
    trunk = {f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")}
    heads = {f"lin{i}.model.1.weight" for i in range(5)}
    assert keys == trunk | heads
    assert [lpips_model.state_dict()[f"lin{i}.model.1.weight"].shape[1] for i in range(5)] == [64, 192, 384, 256, 256]


def save_weights(model: LPIPS, folder) -> tuple:
    """A full torchvision-style AlexNet state dict (classifier included) and an alex.pth-style heads file."""
    state = model.state_dict()
    trunk = {k: v for k, v in state.items() if k.startswith("features.")}
    trunk["classifier.1.weight"] = torch.zeros(8, 4)  # ignored by from_files, as a real file's classifier is
    heads = {k: v for k, v in state.items() if k.startswith("lin")}
    torch.save(trunk, folder / "alexnet.pth")
    torch.save(heads, folder / "alex.pth")
    return folder / "alexnet.pth", folder / "alex.pth", trunk, heads


def test_from_files_round_trip(tmp_path):
    model = LPIPS.from_random(seed=7)
    trunk_path, heads_path, _, _ = save_weights(model, tmp_path)
    loaded = LPIPS.from_files(trunk_path, heads_path)
    a, b = smooth_images(2, seed=1), smooth_images(2, seed=2)
    assert torch.equal(loaded(a, b), model(a, b))
    assert not torch.equal(LPIPS.from_random(seed=8)(a, b), model(a, b))


def test_from_files_names_wrong_keys_and_shapes(tmp_path):
    model = LPIPS.from_random(seed=7)
    trunk_path, heads_path, trunk, heads = save_weights(model, tmp_path)

    renamed = dict(heads)
    renamed["lin5.model.1.weight"] = renamed.pop("lin4.model.1.weight")
    torch.save(renamed, tmp_path / "renamed.pth")
    with pytest.raises(ValueError, match=r"missing keys \['lin4.model.1.weight'\].*unexpected keys \['lin5"):
        LPIPS.from_files(trunk_path, tmp_path / "renamed.pth")

    reshaped = dict(trunk)
    reshaped["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    torch.save(reshaped, tmp_path / "reshaped.pth")
    with pytest.raises(ValueError, match=r"features.3.weight: file \(192, 64, 3, 3\), expected \(192, 64, 5, 5\)"):
        LPIPS.from_files(tmp_path / "reshaped.pth", heads_path)

    with pytest.raises(ValueError, match=r"alex.pth: missing keys \['features.0.bias'"):
        LPIPS.from_files(heads_path, trunk_path)  # the two files swapped

    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="expected a state dict"):
        LPIPS.from_files(tmp_path / "list.pth", heads_path)


# ---- FID ----


@pytest.fixture(params=["scipy", "eigen"])
def sqrt_method(request, monkeypatch):
    """Run a FID test with scipy's sqrtm and with the eigen-decomposition fallback used when scipy is missing."""
    if request.param == "scipy":
        pytest.importorskip("scipy")
    else:
        monkeypatch.setattr(perceptual, "is_available", lambda module: module != "scipy")
    return request.param


def random_gaussian(dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    factor = rng.normal(size=(dims, dims))
    return rng.normal(size=dims), factor @ factor.T / dims + 0.1 * np.eye(dims)


def test_frechet_distance_of_identical_gaussians_is_zero(sqrt_method):
    mu, sigma = random_gaussian(12, seed=0)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances(sqrt_method):
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.1, 3, size=6), rng.uniform(0.1, 3, size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_symmetric(sqrt_method):
    (mu1, sigma1), (mu2, sigma2) = random_gaussian(10, seed=2), random_gaussian(10, seed=3)
    forward, backward = frechet_distance(mu1, sigma1, mu2, sigma2), frechet_distance(mu2, sigma2, mu1, sigma1)
    assert forward > 0
    assert forward == pytest.approx(backward, rel=1e-9)


def test_frechet_distance_methods_agree_on_full_covariances(monkeypatch):
    pytest.importorskip("scipy")
    (mu1, sigma1), (mu2, sigma2) = random_gaussian(10, seed=4), random_gaussian(10, seed=5)
    with_sqrtm = frechet_distance(mu1, sigma1, mu2, sigma2)
    monkeypatch.setattr(perceptual, "is_available", lambda module: module != "scipy")
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(with_sqrtm, rel=1e-9)


def test_fid_with_fewer_samples_than_dimensions_is_finite(sqrt_method):
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(8, 16)), rng.normal(size=(8, 16)) + 1
    assert fid(a, a) == pytest.approx(0, abs=1e-4)
    assert np.isfinite(fid(a, b)) and fid(a, b) > 1


def test_frechet_distance_offsets_the_diagonals_when_sqrtm_fails(monkeypatch):
    linalg = pytest.importorskip("scipy.linalg")
    sqrtm, calls = linalg.sqrtm, []

    def sqrtm_failing_once(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else sqrtm(matrix)

    monkeypatch.setattr(linalg, "sqrtm", sqrtm_failing_once)
    mu, sigma = random_gaussian(5, seed=7)
    assert frechet_distance(mu, sigma, mu + 1, sigma, eps=1e-6) == pytest.approx(5.0, abs=1e-5)
    np.testing.assert_allclose(calls[1], (sigma + 1e-6 * np.eye(5)) @ (sigma + 1e-6 * np.eye(5)))


def test_fid_checks_its_inputs():
    with pytest.raises(ValueError, match="feature sizes differ"):
        fid(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="N >= 2"):
        fid(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3))


# ---- the ONNX feature network ----


class TinyFeatures(nn.Module):
    """A stand-in for the FID Inception network: conv, global pool, linear to 16 features."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng():  # the same weights on every export, without reseeding the suite's RNG
            torch.manual_seed(0)
            self.conv = nn.Conv2d(3, 8, kernel_size=3, stride=2)
            self.linear = nn.Linear(8, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def export_tiny(path, dynamic_batch: bool = True, dynamic_size: bool = False):
    axes = {0: "n"} if dynamic_batch else {}
    if dynamic_size:
        axes |= {2: "h", 3: "w"}
    model = TinyFeatures().eval()
    # The legacy exporter: half the dynamo exporter's time here (the suite ran 9 s against 17 s); its
    # deprecation notice is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, (torch.zeros(4, 3, 32, 32),), str(path), input_names=["images"], output_names=["features"],
            dynamic_axes={"images": axes} if axes else None, dynamo=False,
        )  # fmt: skip
    return model, path


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    return export_tiny(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


def test_onnx_features_resize_to_the_graphs_size(tiny_onnx):
    model, path = tiny_onnx
    features = OnnxFeatures(path, batch_size=3)
    assert features.size == (32, 32) and features.input_name == "images"
    frames = smooth_images(5, size=64)
    resized = F.interpolate(frames, size=(32, 32), mode="bilinear", align_corners=False)
    got = features(frames)
    assert got.shape == (5, 16)
    with torch.no_grad():
        np.testing.assert_allclose(got, model(resized).numpy(), atol=1e-5)


def test_onnx_features_pad_a_fixed_batch(tmp_path, tiny_onnx):
    pytest.importorskip("onnxruntime")
    _, dynamic_path = tiny_onnx
    _, fixed_path = export_tiny(tmp_path / "fixed.onnx", dynamic_batch=False)
    fixed = OnnxFeatures(fixed_path, batch_size=32)
    assert fixed.batch_size == 4
    frames = smooth_images(10, size=40)
    np.testing.assert_allclose(fixed(frames), OnnxFeatures(dynamic_path)(frames), atol=1e-6)


def test_onnx_features_need_a_fixed_image_size(tmp_path):
    pytest.importorskip("onnxruntime")
    _, path = export_tiny(tmp_path / "dynamic_size.onnx", dynamic_size=True)
    with pytest.raises(ValueError, match="no fixed H, W"):
        OnnxFeatures(path)


def test_fid_of_onnx_features(tiny_onnx):
    _, path = tiny_onnx
    features = OnnxFeatures(path)
    frames = smooth_images(48, size=48, seed=3)
    same = fid(features(frames), features(frames))
    shifted = fid(features(frames), features((frames + 0.2).clamp(0, 1)))
    assert same == pytest.approx(0, abs=1e-6)
    assert shifted > 1e-3


# ---- the report ----


def test_report_without_networks_is_not_measured():
    frames = smooth_images(2)
    assert perceptual_report(frames, frames, None, None) == {"lpips": NOT_MEASURED, "fid": NOT_MEASURED}


def test_report_with_networks_measures(lpips_model, tiny_onnx):
    _, path = tiny_onnx
    truth = smooth_images(6, seed=4)
    rendered = (truth + 0.05 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
    report = perceptual_report(rendered, truth, lpips_model, OnnxFeatures(path), batch_size=4)
    assert set(report) == {"lpips", "fid"}
    assert isinstance(report["lpips"], float) and report["lpips"] > 0
    assert isinstance(report["fid"], float) and report["fid"] > 0
    assert perceptual_report(truth, truth, lpips_model, None)["lpips"] == 0.0
    with pytest.raises(ValueError, match="same shape"):
        perceptual_report(rendered[:2], truth, lpips_model, None)
