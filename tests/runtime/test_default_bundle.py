"""The bundle that ships verifies, fits its budget, and holds what the runtime needs."""

from eai_avatar.runtime.bundle import REQUIRED_MODELS, Bundle, check_bundle, default_bundle_path

BUDGET_BYTES = 30 * 2**20


def test_the_shipped_bundle_verifies_and_fits_the_budget():
    root = default_bundle_path()
    assert check_bundle(root) == []
    bundle = Bundle(root)
    assert set(REQUIRED_MODELS) <= set(bundle.models)
    assert set(bundle.identities) == {"ada", "bo", "cyra", "dev"}
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < BUDGET_BYTES
    assert (root / "TRAINING.md").is_file()
    renderer = bundle.engine("renderer")
    assert [s.name for s in renderer.input_spec()] == ["control", "identity"]
