"""The renderer's student: RGBA shapes with alpha = mask, training lowers the loss, ONNX parity, evaluation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training side needs torch (pip install 'eai-avatar[train]')")

from eai_avatar.export.models.renderer_student import RendererStudent, RendererStudentConfig  # noqa: E402
from eai_avatar.export.renderer.export import export_student, parity  # noqa: E402
from eai_avatar.export.renderer.metrics import psnr, ssim  # noqa: E402

TINY = RendererStudentConfig(channels=(8, 16), identities=2, identity_dim=8)


def test_rgba_output_with_the_mask_as_alpha_and_identities_differ():
    torch.manual_seed(0)
    model = RendererStudent(TINY).eval()
    control = torch.rand(2, 4, 32, 32)
    with torch.no_grad():
        rgba = model(control, torch.tensor([0, 1]))
        other = model(control, torch.tensor([1, 1]))
    assert rgba.shape == (2, 4, 32, 32) and 0 <= rgba.min() and rgba.max() <= 1
    assert torch.equal(rgba[:, 3], control[:, 0])  # alpha is the head mask
    assert not torch.allclose(rgba[0, :3], other[0, :3]) and torch.equal(rgba[1], other[1])


def test_ssim_and_psnr_behave():
    a = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(a, a), torch.ones(2)) and (ssim(a, torch.rand(2, 3, 32, 32)) < 0.2).all()
    assert (psnr(a, (a + 0.01).clamp(0, 1)) > 39).all() and (psnr(a, 1 - a) < 10).all()


def test_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = RendererStudent(TINY)
    control = torch.rand(4, 4, 32, 32)
    control[:, 0] = (torch.rand(4, 1, 8, 8) > 0.5).float().repeat_interleave(4, 2).repeat_interleave(4, 3)[:, 0]
    # a fixed function of the control: a colour inside the mask, another outside
    target = control[:, :1] * torch.tensor([0.9, 0.6, 0.4])[:, None, None] + 0.1
    identity = torch.tensor([0, 1, 0, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = (model(control, identity)[:, :3] - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize(
    ("reference_size", "detail_channels"), [(0, 0), (8, 0), (4, 0), (8, 6)]
)  # none; at the working size; resized in the graph; with the full-resolution head
def test_onnx_parity_with_a_dynamic_batch(tmp_path, reference_size, detail_channels):
    torch.manual_seed(0)
    model = RendererStudent(RendererStudentConfig(channels=(8, 16), identities=2, identity_dim=8,
                                                  reference_size=reference_size,
                                                  detail_channels=detail_channels)).eval()  # fmt: skip
    if reference_size:
        torch.nn.init.uniform_(model.references)  # identities' pictures differ, so the index must reach them
    path = export_student(model, tmp_path, size=32)
    assert parity(model, path, batch=3) < 1e-4 and parity(model, path, batch=1) < 1e-4


def test_the_reference_picture_carries_what_the_control_does_not():
    torch.manual_seed(0)
    model = RendererStudent(RendererStudentConfig(channels=(8, 16), identities=2, identity_dim=8, reference_size=8))
    control = torch.rand(1, 4, 32, 32)
    before = model(control, torch.tensor([1]))
    with torch.no_grad():
        model.references[1].fill_(0.9)
    assert not torch.allclose(before, model(control, torch.tensor([1])))
    assert model.references.shape == (2, 3, 8, 8)


def test_a_tiny_training_run_and_its_evaluation(tmp_path):
    pytest.importorskip("espeakng_loader", reason="the dataset speaks with espeak-ng")
    from eai_avatar.export.renderer.evaluate import evaluate_student, side_by_side
    from eai_avatar.export.renderer.train import load_student, preset, train_student
    from eai_avatar.export.studio.dataset import SynthConfig, synthesize_dataset

    data = tmp_path / "data"
    synthesize_dataset(SynthConfig(data, identities=2, clips=6, seed=3, image_size=64, workers=1))
    # a time box that runs out at once saves a checkpoint after one step; the same call then resumes to the end
    boxed = train_student(data, tmp_path / "run", preset("tiny", steps=30), max_seconds=0)
    assert boxed["steps_done"] == 1 and (tmp_path / "run" / "checkpoint" / "trainer.json").exists()
    report = train_student(data, tmp_path / "run", preset("tiny", steps=30))
    assert report["steps_done"] == 30 and report["history"][0]["step"] == 1
    assert report["history"][-1]["val"]["loss"] < report["history"][0]["val"]["loss"]
    model = load_student(tmp_path / "run")
    result = evaluate_student(model, data)
    assert 0 < result["student"]["ssim"] <= 1 and result["student"]["psnr_db"] > 0
    assert result["teacher"] == "not measured" and result["ground_truth"]["frame_change"] > 0
    picture = side_by_side(model, data, count=2)
    assert picture.shape == (2 * 64, 4 * 64, 3) and picture.dtype == np.uint8
    pytest.importorskip("av", reason="writing MP4 needs PyAV")
    from eai_avatar.export.renderer.evaluate import clip_video

    assert "student" in clip_video(model, data, tmp_path / "clip.mp4") and (tmp_path / "clip.mp4").stat().st_size


def test_a_retrained_renderer_replaces_the_bundles_and_nothing_else(tmp_path):
    import json
    import shutil

    from eai_avatar.export.bundle import replace_renderer
    from eai_avatar.export.training import save_model
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path

    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_path(), bundle)
    before = json.loads((bundle / "manifest.json").read_text())
    torch.manual_seed(0)
    student = RendererStudent(RendererStudentConfig(channels=(8, 16), identities=4, identity_dim=8, reference_size=8,
                                                    detail_channels=4)).eval()  # fmt: skip
    trained = tmp_path / "renderer"
    save_model(student, trained, "renderer")
    (trained / "identities.json").write_text(json.dumps(["bo", "ada", "cyra", "dev"]))
    with pytest.raises(ValueError, match="draws"):  # the bundle's identity indices would draw the wrong character
        replace_renderer(bundle, trained)
    (trained / "identities.json").write_text(json.dumps(["ada", "bo", "cyra", "dev"]))
    with pytest.raises(ValueError, match="calibrate"):
        replace_renderer(bundle, trained, "int8")
    assert json.loads((bundle / "manifest.json").read_text()) == before  # refused: nothing written
    manifest = replace_renderer(bundle, trained)
    after = json.loads((bundle / "manifest.json").read_text())
    for name in ("crhmg_encoder", "crhmg_generator", "audio2exp"):
        assert after["models"][name] == before["models"][name]  # untouched
    assert after["assets"] == before["assets"] and after["identities"] == before["identities"]
    assert after["models"]["renderer"]["sha256"] != before["models"]["renderer"]["sha256"]
    export = manifest.models["renderer"].export
    assert export["parity_fp32"] < 1e-4 and export["precision"] == "fp32" and export["trained"] == str(trained)
    assert Bundle(bundle).manifest.models["renderer"].export == export  # verifies every hash and shape
