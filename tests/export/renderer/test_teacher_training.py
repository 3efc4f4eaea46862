"""Training the teacher from a frame pack, its time box and resume, its samples, distillation and evaluation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training side needs torch (pip install 'eai-avatar[train]')")
pytest.importorskip("diffusers", reason="the teacher is built with diffusers (pip install 'eai-avatar[train]')")
pytest.importorskip("espeakng_loader", reason="the dataset speaks with espeak-ng")

from eai_avatar.export.renderer.data import identity_names, load_frames, pack_frames  # noqa: E402
from eai_avatar.export.renderer.teacher import (  # noqa: E402
    load_teacher,
    preset,
    teacher_render,
    train_teacher,
    write_teacher_samples,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from eai_avatar.export.studio.dataset import SynthConfig, synthesize_dataset

    folder = tmp_path_factory.mktemp("renderer") / "data"
    synthesize_dataset(SynthConfig(folder, identities=2, clips=6, seed=3, image_size=64, workers=1))
    return folder


@pytest.fixture(scope="module")
def pack(dataset):
    path = dataset.parent / "pack.npz"
    counts = pack_frames(dataset, path, {"train": (2, None), "test": (1, 400)})
    assert counts["train"] > 0 and 0 < counts["test"] <= 400
    return path


def test_a_frame_pack_reads_like_the_dataset(dataset, pack, tmp_path):
    assert identity_names(pack) == identity_names(dataset)
    packed, direct = load_frames(pack, "train", every=2), load_frames(dataset, "train", every=2)
    for key in ("control", "rgb", "identity"):
        np.testing.assert_array_equal(packed[key], direct[key])
    assert len(load_frames(pack, "train", every=4)["rgb"]) == (len(packed["rgb"]) + 1) // 2  # thinned further
    name = identity_names(dataset)[1]
    alone = load_frames(pack, "train", every=2, identity=name)
    assert len(alone["rgb"]) and set(alone["identity"]) == {1}
    with pytest.raises(ValueError, match="no 'val' split"):
        load_frames(pack, "val")
    with pytest.raises(ValueError, match="unknown identity"):
        load_frames(pack, "train", identity="nobody")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a frame pack"):
        load_frames(tmp_path / "other.npz", "train")


def test_teacher_training_resumes_stops_at_its_time_box_and_samples(dataset, pack, tmp_path):
    name = identity_names(dataset)[0]
    out = tmp_path / "teacher"
    report = train_teacher(pack, out, preset("tiny", steps=4), identity=name)
    assert report["steps_done"] == 4 and report["identities"] == [name] and report["history"][-1]["step"] == 4
    with pytest.raises(ValueError, match="--no-resume"):
        train_teacher(pack, out, preset("tiny", steps=6))  # the checkpoint holds one identity, not all
    report = train_teacher(pack, out, preset("tiny", steps=6), identity=name)  # resumes from step 4
    assert report["steps_done"] == 6 and [h["step"] for h in report["history"]] == [2, 4, 6]
    boxed = train_teacher(pack, tmp_path / "boxed", preset("tiny", steps=1000, max_seconds=0.0), identity=name)
    assert boxed["steps_done"] == 1  # the time box ran out after the first step, and the model was saved

    teacher, names = load_teacher(out)
    assert names == [name] and teacher.config.identities == 1
    frames = load_frames(dataset, "test", every=1, limit=3, identity=name)
    dataset_names = identity_names(dataset)
    first = teacher_render(teacher, names, dataset_names, frames["control"][:2], frames["identity"][:2], steps=2)
    again = teacher_render(teacher, names, dataset_names, frames["control"][:2], frames["identity"][:2], steps=2)
    assert first.shape == (2, 3, 16, 16) and torch.equal(first, again)  # one shared noise: deterministic frames
    other = np.full(2, dataset_names.index(dataset_names[1]))
    with pytest.raises(ValueError, match="trained on"):
        teacher_render(teacher, names, dataset_names, frames["control"][:2], other, steps=2)

    count = write_teacher_samples(teacher, names, pack, tmp_path / "samples.npz", every=8, steps=2)
    with np.load(tmp_path / "samples.npz") as samples:
        assert samples["teacher"].shape == (count, 3, 16, 16) and samples["teacher"].dtype == np.uint8
        assert samples["control"].shape[0] == count and set(samples["identity"]) == {0}


def test_distillation_and_the_teacher_in_the_evaluation(dataset, pack, tmp_path):
    from eai_avatar.export.renderer.evaluate import evaluate_student, side_by_side
    from eai_avatar.export.renderer.train import load_student, train_student
    from eai_avatar.export.renderer.train import preset as student_preset

    name = identity_names(dataset)[0]
    train_teacher(pack, tmp_path / "teacher", preset("tiny", steps=2), identity=name)
    teacher = load_teacher(tmp_path / "teacher")
    write_teacher_samples(*teacher, pack, tmp_path / "samples.npz", every=8, steps=2)
    config = student_preset("tiny", steps=4, checkpoint_every=2)
    report = train_student(dataset, tmp_path / "student", config, teacher_samples=tmp_path / "samples.npz")
    assert report["teacher_samples"] > 0 and "distill" in report["history"][-1]["train"]

    student = load_student(tmp_path / "student")
    result = evaluate_student(student, pack, identity=name, teacher=teacher, teacher_steps=2)
    assert 0 < result["teacher"]["ssim"] <= 1 and result["teacher"]["image_size"] == 16
    assert set(result["at_teacher_size"]) == {"size", "teacher", "student"} and result["identity"] == name
    assert result["student"]["lpips"] == "not measured" and result["student"]["fid"] == "not measured"
    picture = side_by_side(student, pack, count=2, identity=name, teacher=teacher, teacher_steps=2)
    assert picture.shape == (2 * 64, 5 * 64, 3)  # mask | E_t | truth | teacher | student

    with np.load(tmp_path / "samples.npz") as samples:
        np.savez(tmp_path / "renamed.npz", **{**samples, "identity_names": np.array(["x", "y"])})
    with pytest.raises(ValueError, match="identities"):
        train_student(dataset, tmp_path / "s2", config, teacher_samples=tmp_path / "renamed.npz")


def test_the_commands_pack_train_and_evaluate(dataset, tmp_path, capsys):
    from eai_avatar.cli import main

    pack = tmp_path / "p.npz"
    with pytest.raises(SystemExit):
        main(["data", "frames", "--data", str(dataset), "--out", str(pack), "--split", "train:0"])
    assert main(["data", "frames", "--data", str(dataset), "--out", str(pack), "--split", "train:4",
                 "--split", "test:2"]) == 0  # fmt: skip
    assert "train" in capsys.readouterr().out and pack.is_file()
    assert main(["train", "renderer-teacher", "--data", str(pack), "--out", str(tmp_path / "t"), "--preset", "tiny",
                 "--steps", "2", "--samples", str(tmp_path / "s.npz"), "--samples-every", "8"]) == 0  # fmt: skip
    assert "teacher samples" in capsys.readouterr().out and (tmp_path / "s.npz").is_file()
