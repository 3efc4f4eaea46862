import pytest

pytest.importorskip("espeakng_loader", reason="the dataset speaks with espeak-ng")
pytest.importorskip("torch", reason="the training side needs torch (pip install 'eai-avatar[train]')")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Eight clips at 64x64: speech for the speaker, silence for the listener."""
    from eai_avatar.export.studio.dataset import SynthConfig, synthesize_dataset

    out = tmp_path_factory.mktemp("audio2exp") / "data"
    synthesize_dataset(SynthConfig(out, identities=2, clips=8, seed=3, image_size=64, workers=1))
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory):
    """A tiny Audio2Exp trained long enough to learn that silence closes the mouth."""
    from eai_avatar.export.audio2exp.train import preset, train_audio2exp

    out = tmp_path_factory.mktemp("audio2exp") / "run"
    report = train_audio2exp(tiny_dataset, out, preset("tiny", steps=200, checkpoint_every=50))
    return out, report
