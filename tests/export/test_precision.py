"""fp16 and int8 variants of an exported model: same interface, bounded error, smaller files; the renderer's
ONNX quality report."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="exporting the test model needs torch (pip install 'eai-avatar[train]')")
pytest.importorskip("onnxruntime", reason="the variants run in onnxruntime")

from eai_avatar.export.precision import (  # noqa: E402
    FLOAT_TENSORS_KEY,
    PRECISION_KEY,
    compare,
    sensitivity,
    to_fp16,
    to_int8,
)
from eai_avatar.runtime.engines import create_engine  # noqa: E402

SIZE = 32


class TinyNet(torch.nn.Module):
    """Like the renderer's student: control (B, 4, S, S) float and identity (B,) int64 -> RGB in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.identity = torch.nn.Embedding(3, 8)
        self.film = torch.nn.Linear(8, 64)
        self.first = torch.nn.Conv2d(4, 32, 3, padding=1)
        self.second = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.third = torch.nn.Conv2d(32, 32, 3, padding=1)
        self.out = torch.nn.Conv2d(32, 3, 1)

    def forward(self, control, identity):
        scale, shift = self.film(self.identity(identity))[:, :, None, None].chunk(2, dim=1)
        h = torch.relu(self.second(torch.relu(self.first(control))) * (1 + scale) + shift)
        return torch.sigmoid(self.out(torch.relu(self.third(h))))


def feeds(count: int, batch: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"control": rng.random((batch, 4, SIZE, SIZE)).astype(np.float32),
             "identity": rng.integers(3, size=batch).astype(np.int64)} for _ in range(count)]  # fmt: skip


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    import onnx

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("precision") / "tiny.onnx"
    batch = torch.export.Dim("batch", min=1, max=64)
    example = (torch.rand(2, 4, SIZE, SIZE), torch.zeros(2, dtype=torch.int64))
    with torch.no_grad():
        torch.onnx.export(
            TinyNet().eval(), example, str(path), input_names=["control", "identity"], output_names=["rgb"],
            opset_version=18, dynamo=True, external_data=False,
            dynamic_shapes={"control": {0: batch}, "identity": {0: batch}},
        )  # fmt: skip
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, {"context_frames": "3"})  # metadata a runtime reads must survive
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def fp16(fp32):
    return to_fp16(fp32, fp32.parent / "tiny.fp16.onnx")


@pytest.fixture(scope="module")
def int8(fp32):
    return to_int8(fp32, fp32.parent / "tiny.int8.onnx", feeds(8, 4, seed=1))


def check_interface(path, precision):
    """Float32 and int64 in, float32 out, the dynamic batch and the source's metadata kept."""
    engine = create_engine(path, threads=1)
    inputs = {spec.name: spec for spec in engine.input_spec()}
    assert inputs["control"].dtype == "float32" and inputs["identity"].dtype == "int64"
    assert isinstance(inputs["control"].shape[0], str) and isinstance(inputs["identity"].shape[0], str)
    (output,) = engine.output_spec()
    assert output.dtype == "float32" and isinstance(output.shape[0], str)
    assert engine.metadata()[PRECISION_KEY] == precision and engine.metadata()["context_frames"] == "3"
    for batch in (1, 5):
        (rgb,) = engine.run(feeds(1, batch, seed=7)[0]).values()
        assert rgb.shape == (batch, 3, SIZE, SIZE) and rgb.dtype == np.float32


def test_fp16_is_within_1e_2_half_the_size_and_keeps_the_interface(fp32, fp16):
    check_interface(fp16, "fp16")
    error = compare(fp32, fp16, feeds(4, 3, seed=2))
    assert set(error) == {"rgb"} and 0 < error["rgb"]["mean_abs"] <= error["rgb"]["max_abs"] < 1e-2
    assert fp16.stat().st_size < 0.65 * fp32.stat().st_size  # 0.58 here; the graph itself does not shrink


def test_int8_is_within_0_05_under_half_the_size_and_keeps_the_interface(fp32, int8):
    check_interface(int8, "int8")
    error = compare(fp32, int8, feeds(4, 3, seed=2))
    assert 0 < error["rgb"]["mean_abs"] <= error["rgb"]["max_abs"] < 0.05  # outputs are in [0, 1]
    assert int8.stat().st_size < 0.5 * fp32.stat().st_size  # scales and QDQ nodes weigh on a model this small
    assert FLOAT_TENSORS_KEY not in create_engine(int8).metadata()  # no tolerance: everything quantized


def test_sensitivity_ranks_tensors_and_tolerance_keeps_the_worst_in_float(fp32, int8, tmp_path):
    calibration = feeds(2, 4, seed=1)
    errors = sensitivity(fp32, calibration)
    values = list(errors.values())
    assert len(errors) > 5 and values == sorted(values, reverse=True) and min(values) >= 0 and max(values) > 0
    # A tolerance above the worst tensor quantizes everything; below the best, nothing (the model stays exact).
    everything = to_int8(fp32, tmp_path / "all.onnx", calibration, tolerance=10 * values[0])
    assert FLOAT_TENSORS_KEY not in create_engine(everything).metadata()
    nothing = to_int8(fp32, tmp_path / "none.onnx", calibration, tolerance=0.0)
    kept = create_engine(nothing).metadata()[FLOAT_TENSORS_KEY].split(",")
    assert set(kept) == {name for name, value in errors.items() if value > 0}
    assert compare(fp32, nothing, feeds(2, 3, seed=2))["rgb"]["max_abs"] < 1e-5
    # In between: the worst tensor stays float, and the result is no worse than quantizing everything.
    partial = to_int8(fp32, tmp_path / "partial.onnx", calibration, tolerance=(values[0] + values[1]) / 2)
    assert create_engine(partial).metadata()[FLOAT_TENSORS_KEY] == next(iter(errors))
    test = feeds(2, 3, seed=2)
    assert compare(fp32, partial, test)["rgb"]["mean_abs"] <= compare(fp32, int8, test)["rgb"]["mean_abs"]


def test_compare_of_a_model_with_itself_is_zero(fp32):
    assert compare(fp32, fp32, feeds(2, 2, seed=3)) == {"rgb": {"max_abs": 0.0, "mean_abs": 0.0}}
    with pytest.raises(ValueError, match="at least one feed"):
        compare(fp32, fp32, [])


def test_bad_sources_and_arguments_fail_clearly(fp32, tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        to_fp16(missing, tmp_path / "out.onnx")
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        to_int8(missing, tmp_path / "out.onnx", feeds(1, 1, seed=0))
    text = tmp_path / "notes.onnx"
    text.write_text("not a model", encoding="utf-8")
    for convert in (lambda: to_fp16(text, tmp_path / "a.onnx"), lambda: to_int8(text, tmp_path / "b.onnx", [{}])):
        with pytest.raises(ValueError, match="not a valid ONNX model"):
            convert()
    with pytest.raises(ValueError, match="overwrite its source"):
        to_fp16(fp32, fp32)
    with pytest.raises(ValueError, match="calibration feeds"):
        to_int8(fp32, tmp_path / "c.onnx", [])
    with pytest.raises(ValueError, match=r"calibration feed 0 has inputs \['control'\]"):
        to_int8(fp32, tmp_path / "d.onnx", [{"control": np.zeros((1, 4, SIZE, SIZE), np.float32)}])
    assert not list(tmp_path.glob("[abcd].onnx"))


def test_the_renderer_onnx_quality_report(tmp_path):
    """A fake two-clip dataset whose ground truth is the fp32 export's own rendering: SSIM 1 for fp32, near 1
    for fp16, and calibration feeds batched as asked."""
    from eai_avatar.export.models.renderer_student import RendererStudent, RendererStudentConfig
    from eai_avatar.export.renderer.export import export_student
    from eai_avatar.export.renderer.onnx_quality import calibration_feeds, evaluate_onnx, render_onnx
    from eai_avatar.export.studio.dataset import FORMAT, FORMAT_VERSION

    torch.manual_seed(0)
    path = export_student(RendererStudent(RendererStudentConfig(channels=(8, 16), identities=2, identity_dim=8)),
                          tmp_path / "model", size=SIZE)  # fmt: skip
    engine = create_engine(path, threads=1)
    rng = np.random.default_rng(0)
    data, clips = tmp_path / "data", []
    for index in range(2):  # c0 in train, c1 in test
        clips.append({"clip_id": f"c{index}", "speaker": "a", "listener": "b", "path": f"clips/c{index}"})
        (data / "clips" / f"c{index}").mkdir(parents=True)
        for role, identity in (("speaker", 0), ("listener", 1)):
            masks = (rng.random((10, SIZE, SIZE)) > 0.5).astype(np.uint8) * 255
            motion = rng.integers(0, 256, (10, SIZE, SIZE, 3), dtype=np.uint8)
            control = np.concatenate([masks[:, None], motion.transpose(0, 3, 1, 2)], axis=1)
            rgba = render_onnx(engine, control, np.full(10, identity, np.int64), batch=4)
            frames = (rgba[:, :3] * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)
            np.savez_compressed(data / "clips" / f"c{index}" / f"{role}.npz", masks=masks, motion=motion, frames=frames)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "identities": {"a": {}, "b": {}},
                "splits": {"train": ["c0"], "test": ["c1"]}, "clips": clips}  # fmt: skip
    (data / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    report = evaluate_onnx(path, data, every=2, batch=4)
    assert report["frames"] == 10 and report["size"] == [SIZE, SIZE] and report["precision"] == "fp32"
    assert report["ssim"] > 0.999 and report["psnr_db"] > 50
    half = evaluate_onnx(to_fp16(path, tmp_path / "fp16.onnx"), data, every=2)
    assert half["precision"] == "fp16" and half["ssim"] > 0.99 and half["psnr_db"] > 40
    calibration = calibration_feeds(data, count=12, batch=5, every=1)
    assert [len(f["control"]) for f in calibration] == [5, 5, 2] and calibration[0]["control"].dtype == np.float32
    assert set(calibration[0]) == {"control", "identity"} and calibration[0]["identity"].dtype == np.int64
