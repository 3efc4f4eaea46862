"""The bundle that ships verifies, fits its budget, and holds what the runtime needs; its manifest reads into a
`Manifest` and writes back to the same JSON, and malformed manifests are refused with the reason."""

import json
import re

import pytest

from eai_avatar.runtime.bundle import (
    MANIFEST,
    REQUIRED_MODELS,
    Bundle,
    BundleError,
    Manifest,
    check_bundle,
    default_bundle_path,
    read_manifest,
)

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


def test_the_shipped_manifest_reads_and_writes_back_unchanged(tmp_path):
    root = default_bundle_path()
    text = (root / MANIFEST).read_text(encoding="utf-8")
    manifest = Manifest.read(root)
    assert json.dumps(manifest.to_json(), indent=1) == text  # byte for byte, keys in the same order
    assert read_manifest(root) == json.loads(text)
    manifest.write(tmp_path)
    assert (tmp_path / MANIFEST).read_text(encoding="utf-8") == text
    assert manifest.models["renderer"].precision == "fp32" and manifest.identities["bo"].renderer_index == 1
    assert manifest.files[manifest.identities["ada"].rig].bytes > 0 and manifest.mask_size == 64


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda m: m.pop("models"), "has no 'models' table"),
        (lambda m: m.update(format="something-else"), "is not an eai-avatar-bundle manifest"),
        (lambda m: m.update(format_version=2), "format version 2; this runtime reads version 1"),
        (lambda m: m["models"]["renderer"].pop("sha256"), "model renderer: malformed manifest entry ('sha256')"),
        (lambda m: m["models"]["audio2exp"]["inputs"][0].pop("dtype"), "model audio2exp: malformed manifest entry"),
        (lambda m: m["assets"]["leed"].pop("path"), "asset leed: the manifest gives no path"),
        (lambda m: m["assets"]["leed"].update(bytes="12"), "asset leed: malformed manifest entry (bytes is '12')"),
        (lambda m: m["identities"]["ada"].pop("voice"), "identity ada: malformed manifest entry ('voice')"),
        (lambda m: m["files"].pop("identities/bo/rig.json"), "identity bo rig: identities/bo/rig.json is not among"),
        (lambda m: m.update(tensorrt={"sm_90": {"renderer": {"path": "x.plan"}}}), "TensorRT sm_90 renderer: malf"),
    ],
)
def test_a_malformed_manifest_is_refused_with_the_reason(damage, message):
    data = read_manifest(default_bundle_path())
    damage(data)
    with pytest.raises(BundleError, match=re.escape(message)) as caught:
        Manifest.from_json(data, "somewhere")
    assert len(caught.value.problems) == 1


def test_the_vocabulary_is_compared_as_recorded(tmp_path):
    root = default_bundle_path()
    data = read_manifest(root)
    data["image_size"] = [128, 128]
    del data["fps"]
    problems = check_bundle(root, Manifest.from_json(data, root), hashes=False, engines=False)
    assert problems == ["fps: the bundle was made with None, this runtime uses 25",
                        "image_size: the bundle was made with [128, 128], this runtime uses [256, 256]"]  # fmt: skip
