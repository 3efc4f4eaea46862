"""The engine bundle: export from (tiny, untrained) checkpoints, verification, refusal of tampered bundles,
precision variants, the Triton repository and the TensorRT path."""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="exporting needs the training side (pip install 'eai-avatar[train]')")

from eai_avatar.runtime.bundle import Bundle, BundleError, check_bundle  # noqa: E402


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from eai_avatar.export.audio2exp.train import preset as audio2exp_preset
    from eai_avatar.export.crhmg.train import preset as crhmg_preset
    from eai_avatar.export.models.audio2exp import Audio2Exp
    from eai_avatar.export.models.crhmg import CRHMG
    from eai_avatar.export.models.renderer_student import RendererStudent, RendererStudentConfig
    from eai_avatar.export.training import save_model

    root = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    save_model(CRHMG(crhmg_preset("tiny").model), root / "crhmg", "crhmg")
    save_model(Audio2Exp(audio2exp_preset("tiny").model), root / "audio2exp", "audio2exp")
    save_model(RendererStudent(RendererStudentConfig(channels=(8, 16), identities=2, identity_dim=8)),
               root / "renderer", "renderer")  # fmt: skip
    (root / "renderer" / "identities.json").write_text(json.dumps(["ada", "bo"]))
    return root


@pytest.fixture(scope="module")
def bundle_dir(checkpoints, tmp_path_factory):
    from eai_avatar.export.bundle import build_bundle

    out = tmp_path_factory.mktemp("bundle") / "b"
    precision = {"crhmg_generator": "fp16-weights", "audio2exp": "fp16-weights"}
    build_bundle(out, checkpoints / "crhmg", checkpoints / "audio2exp", checkpoints / "renderer", precision)
    return out


@pytest.fixture
def copy(bundle_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(bundle_dir, target)
    return target


def test_an_exported_bundle_verifies_and_round_trips(bundle_dir):
    assert check_bundle(bundle_dir) == []
    bundle = Bundle(bundle_dir)
    assert set(bundle.models) == {"crhmg_encoder", "crhmg_generator", "audio2exp", "renderer"}
    assert bundle.identity("bo").renderer_index == 1 and bundle.identity("ada").voice
    assert np.load(bundle.root / bundle.identity("ada").first_mask).shape == (32, 32)  # the tiny CRHMG's mask size
    engine = bundle.engine("renderer")
    assert [s.name for s in engine.input_spec()] == ["control", "identity"]
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["models"]["crhmg_generator"]["precision"] == "fp16-weights"
    for name in ("crhmg_generator", "audio2exp"):  # fp16 storage: the error against fp32 is measured and small
        assert manifest["models"][name]["export"]["max_abs_error_vs_fp32"] < 1e-2
    for entry in manifest["models"].values():
        assert entry["export"]["parity_fp32"] < 1e-4
    with pytest.raises(KeyError, match="unknown identity"):
        bundle.identity("nobody")


def test_an_exported_manifest_has_the_shipped_manifests_keys(bundle_dir):
    from eai_avatar.runtime.bundle import Manifest, default_bundle_path

    exported = json.loads((bundle_dir / "manifest.json").read_text())
    shipped = json.loads((default_bundle_path() / "manifest.json").read_text())
    assert list(exported) == list(shipped)
    for table in ("models", "assets"):
        assert list(exported[table]) == list(shipped[table])
        for name, entry in exported[table].items():
            assert list(entry) == list(shipped[table][name])
    assert list(exported["models"]["renderer"]["inputs"][0]) == list(shipped["models"]["renderer"]["inputs"][0])
    assert list(exported["identities"]) == ["ada", "bo"]  # the tiny renderer's identities
    assert list(exported["identities"]["bo"]) == list(shipped["identities"]["bo"])
    assert list(exported["files"]) == list(shipped["files"])[:4]
    assert list(exported["files"]["identities/bo/rig.json"]) == list(shipped["files"]["identities/bo/rig.json"])
    assert list(exported["embedder"]) == list(shipped["embedder"])
    assert Manifest.read(bundle_dir).to_json() == exported


def test_a_tensorrt_plan_is_recorded_in_the_manifest_and_verified(copy, monkeypatch):
    from dataclasses import replace

    from eai_avatar.runtime.bundle import Manifest, TensorRTPlan

    plan = copy / "tensorrt" / "sm_90" / "renderer.plan"
    plan.parent.mkdir(parents=True)
    plan.write_bytes(b"plan")
    manifest = Manifest.read(copy)
    entry = TensorRTPlan.measure(copy, plan, precision="fp16", tensorrt="10.0")
    replace(manifest, tensorrt={"sm_90": {"renderer": entry}}).write(copy)
    recorded = json.loads((copy / "manifest.json").read_text())["tensorrt"]
    assert recorded == {"sm_90": {"renderer": {"path": "tensorrt/sm_90/renderer.plan", "sha256": entry.sha256,
                                               "bytes": 4, "precision": "fp16", "tensorrt": "10.0"}}}  # fmt: skip
    monkeypatch.setattr("eai_avatar.runtime.engines.gpu_arch.current_sm_arch", lambda: "sm_90")
    assert Bundle(copy).tensorrt_plan("renderer") == copy / "tensorrt" / "sm_90" / "renderer.plan"
    plan.write_bytes(b"PLAN")
    with pytest.raises(BundleError, match="TensorRT sm_90 renderer: .* does not match its sha256"):
        Bundle(copy)


def test_fp16_weights_halve_the_file(checkpoints, tmp_path):
    from eai_avatar.export.crhmg.export import export_crhmg
    from eai_avatar.export.crhmg.train import load_crhmg
    from eai_avatar.export.fp16_weights import to_fp16_weights

    paths = export_crhmg(load_crhmg(checkpoints / "crhmg"), tmp_path)
    half = to_fp16_weights(paths["generator"], tmp_path / "half.onnx")
    assert half.stat().st_size < 0.6 * paths["generator"].stat().st_size
    with pytest.raises(FileNotFoundError):
        to_fp16_weights(tmp_path / "missing.onnx", tmp_path / "x.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not an ONNX model"):
        to_fp16_weights(tmp_path / "junk.onnx", tmp_path / "x.onnx")


@pytest.mark.parametrize(
    "damage, message",
    [
        ("flip", "does not match its sha256"),
        ("truncate", "truncated or replaced"),
        ("delete", "is missing"),
        ("shape", "the manifest says"),
        ("version", "format version"),
        ("fps", "fps: the bundle was made with 30"),
        ("escape", "points outside the bundle"),
    ],
)
def test_a_damaged_bundle_is_refused_with_the_reason(copy, damage, message):
    manifest_path = copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    renderer = copy / "renderer.onnx"
    if damage == "flip":
        data = bytearray(renderer.read_bytes())
        data[len(data) // 2] ^= 0xFF
        renderer.write_bytes(bytes(data))
    elif damage == "truncate":
        renderer.write_bytes(renderer.read_bytes()[:-100])
    elif damage == "delete":
        (copy / "identities" / "bo" / "rig.json").unlink()
    elif damage == "shape":
        manifest["models"]["renderer"]["inputs"][0]["shape"] = ["batch", 4, 128, 128]
    elif damage == "version":
        manifest["format_version"] = 99
    elif damage == "fps":
        manifest["fps"] = 30
    elif damage == "escape":
        manifest["assets"]["leed"]["path"] = "../../etc/passwd"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message) as caught:
        # A model's interface is checked when it is loaded (once, by the server's Models, before it listens).
        Bundle(copy).engine("renderer") if damage == "shape" else Bundle(copy)
    assert caught.value.problems
    assert any(message in problem for problem in check_bundle(copy))  # `bundle verify` checks everything at once


def test_bundle_verify_command(bundle_dir, copy, capsys):
    from eai_avatar.cli import main

    assert main(["bundle", "verify", str(bundle_dir)]) == 0
    assert "OK" in capsys.readouterr().out
    (copy / "leed.npz").write_bytes(b"")
    assert main(["bundle", "verify", str(copy), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert not result["ok"] and any("leed" in p for p in result["problems"])
    assert main(["bundle", "verify", str(copy / "nowhere")]) == 1


def test_export_refuses_bad_requests(checkpoints, tmp_path):
    from eai_avatar.export.bundle import build_bundle

    folders = (checkpoints / "crhmg", checkpoints / "audio2exp", checkpoints / "renderer")
    with pytest.raises(ValueError, match="unknown models"):
        build_bundle(tmp_path / "a", *folders, {"vocoder": "fp16"})
    with pytest.raises(ValueError, match="unknown precision"):
        build_bundle(tmp_path / "b", *folders, {"renderer": "fp8"})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        build_bundle(tmp_path / "full", *folders)
    with pytest.raises(ValueError, match="calibration"):
        build_bundle(tmp_path / "c", *folders, {"renderer": "int8"})


def test_triton_repository(bundle_dir, tmp_path):
    from eai_avatar.export.triton import write_triton_repository

    names = write_triton_repository(bundle_dir, tmp_path / "triton")
    assert set(names) == {"crhmg_encoder", "crhmg_generator", "audio2exp", "renderer"}
    renderer = (tmp_path / "triton" / "renderer" / "config.pbtxt").read_text()
    assert "dynamic_batching" in renderer and "max_batch_size: 32" in renderer
    assert "dims: [ 4, 256, 256 ]" in renderer and "reshape: { shape: [ ] }" in renderer  # identity per item
    generator = (tmp_path / "triton" / "crhmg_generator" / "config.pbtxt").read_text()
    assert "max_batch_size: 0" in generator and "dims: [ -1, -1, 64 ]" in generator
    assert (tmp_path / "triton" / "audio2exp" / "1" / "model.onnx").stat().st_size > 0


def test_tensorrt_plans_for_another_gpu_are_refused(bundle_dir, copy, monkeypatch):
    from eai_avatar.export import tensorrt as builder
    from eai_avatar.runtime.engines import tensorrt as backend

    plan = copy / "tensorrt" / "sm_80" / "renderer.plan"
    plan.parent.mkdir(parents=True)
    plan.write_bytes(b"plan")
    with pytest.raises(RuntimeError, match="built for sm_80 and this GPU is sm_90"):
        backend.check_arch(plan, "sm_90")
    with pytest.raises(RuntimeError, match="no NVIDIA GPU"):
        backend.check_arch(plan, None)
    with pytest.raises(ValueError, match="sm_arch"):
        backend.plan_arch(copy / "renderer.onnx")
    monkeypatch.setattr("eai_avatar.runtime.engines.gpu_arch.current_sm_arch", lambda: "sm_90")
    with pytest.raises(RuntimeError, match="no TensorRT engine of renderer for this GPU"):
        Bundle(copy).tensorrt_plan("renderer")
    monkeypatch.setattr(builder, "current_sm_arch", lambda: None)
    with pytest.raises(RuntimeError, match="needs an NVIDIA GPU"):
        builder.build_engines(copy)
    assert builder.profile_shapes("renderer", ("batch", 4, 256, 256)) == ((1, 4, 256, 256), (8, 4, 256, 256),
                                                                          (32, 4, 256, 256))  # fmt: skip
    assert builder.profile_shapes("audio2exp", ("batch", "frames", 320))[0] == (1, 37, 320)


def test_tensorrt_engines_match_onnxruntime(bundle_dir, tmp_path):
    from eai_avatar.runtime.engines.gpu_arch import current_sm_arch

    if current_sm_arch() is None:
        pytest.skip("no NVIDIA GPU here: TensorRT engines are built and compared on a machine with one")
    pytest.importorskip("tensorrt", reason="the tensorrt package is not installed (pip install 'eai-avatar[tensorrt]')")
    from eai_avatar.export.tensorrt import build_engines

    target = tmp_path / "b"
    shutil.copytree(bundle_dir, target)
    build_engines(target)
    bundle = Bundle(target)
    feed = {"control": np.random.default_rng(0).random((2, 4, 256, 256), dtype=np.float32),
            "identity": np.array([0, 1], np.int64)}  # fmt: skip
    expected = bundle.engine("renderer").run(feed)["rgba"]
    got = bundle.engine("renderer", backend="tensorrt").run(feed)["rgba"]
    assert np.abs(got - expected).max() < 1e-2  # fp16 engine against fp32 onnxruntime
