import pytest

pytest.importorskip("espeakng_loader", reason="the dataset speaks with espeak-ng")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """Six clips at 64x64 (masks are averaged down to the tiny model's 32x32)."""
    from eai_avatar.export.studio.dataset import SynthConfig, synthesize_dataset

    out = tmp_path_factory.mktemp("crhmg") / "data"
    synthesize_dataset(SynthConfig(out, identities=2, clips=6, seed=3, image_size=64, workers=1))
    return out
