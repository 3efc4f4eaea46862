"""The engine bundle (DESIGN.md section 5): what the exporter writes and the runtime loads, verified.

A bundle is a folder:

    manifest.json             format and version, the vocabulary it was made with, every file with its sha256
    crhmg_encoder.onnx ...    the models (fp32, fp16 or int8), each with its inputs' and outputs' names,
                              shapes and dtypes in the manifest
    leed.npz, emotion_head.npz, tokenizer.json
    identities/<name>/        rig.json and first_mask.npy per character
    tensorrt/<sm_arch>/*.plan optional engines built for one GPU architecture

Loading verifies before anything runs: the format version, the vocabulary (fps, sample rate, image size, emotion
and blendshape names must be this runtime's), every file's size and sha256 (a truncated or edited file is named),
and each ONNX model's inputs and outputs against the manifest. A bundle that fails is refused with every problem
listed (`BundleError`); `eai-avatar bundle verify DIR` runs the same checks alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from eai_avatar.runtime.engines.base import TensorSpec
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, EMOTIONS, FPS, IMAGE_SIZE, SAMPLE_RATE

FORMAT = "eai-avatar-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: The models every complete bundle holds, and what each is for.
REQUIRED_MODELS = {
    "crhmg_encoder": "CRHMG's mask encoder (section 3.1)",
    "crhmg_generator": "CRHMG's mask generator (section 3.1)",
    "audio2exp": "speech + emotion -> ARKit blendshapes (section 3.3)",
    "renderer": "mask + E_t -> RGBA frame, the distilled one-step student (section 3.5)",
}
REQUIRED_ASSETS = ("leed", "emotion_head", "tokenizer")


class BundleError(ValueError):
    """A bundle that cannot be used; `problems` lists every reason found."""

    def __init__(self, root: Path, problems: list[str]):
        self.root, self.problems = root, problems
        super().__init__(f"the bundle in {root} is refused:\n  - " + "\n  - ".join(problems))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def spec_to_json(spec: TensorSpec) -> dict:
    return {"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype}


def spec_from_json(data: dict) -> TensorSpec:
    return TensorSpec(data["name"], tuple(data["shape"]), data["dtype"])


def vocabulary() -> dict:
    """The constants a bundle must share with this runtime."""
    return {"fps": FPS, "sample_rate": SAMPLE_RATE, "image_size": list(IMAGE_SIZE), "emotions": list(EMOTIONS),
            "blendshapes": list(ARKIT_BLENDSHAPES)}  # fmt: skip


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: str  # relative to the bundle
    sha256: str
    bytes: int
    precision: str  # fp32, fp16 or int8
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: dict

    @classmethod
    def from_json(cls, name: str, data: dict) -> ModelEntry:
        return cls(name, data["path"], data["sha256"], int(data["bytes"]), data["precision"],
                   tuple(spec_from_json(s) for s in data["inputs"]), tuple(spec_from_json(s) for s in data["outputs"]),
                   dict(data.get("metadata", {})))  # fmt: skip


@dataclass(frozen=True)
class Identity:
    name: str
    display_name: str
    renderer_index: int  # the renderer's identity input for this character
    voice: str  # the espeak-ng voice of the offline TTS
    rig: str  # path of rig.json
    first_mask: str  # path of the neutral head mask CRHMG starts from


class Bundle:
    """A verified bundle. `path(name)` gives a model's or asset's file; `engine(name)` loads a model."""

    def __init__(self, root: str | Path, verify: bool = True):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if verify:
            problems = check_bundle(self.root, self.manifest)
            if problems:
                raise BundleError(self.root, problems)
        self.models = {name: ModelEntry.from_json(name, m) for name, m in self.manifest["models"].items()}
        self.identities = {name: Identity(name=name, **values) for name, values in self.manifest["identities"].items()}

    def path(self, name: str) -> Path:
        entry = self.manifest["models"].get(name) or self.manifest["assets"].get(name)
        if entry is None:
            raise KeyError(f"the bundle has no model or asset {name!r}")
        return self.root / entry["path"]

    def identity(self, name: str) -> Identity:
        if name not in self.identities:
            raise KeyError(f"unknown identity {name!r}; the bundle has {', '.join(self.identities)}")
        return self.identities[name]

    def engine(self, name: str, backend: str = "onnxruntime", **options):
        from eai_avatar.runtime.engines import create_engine

        if name not in self.models:
            raise KeyError(f"the bundle has no model {name!r}; it has {', '.join(self.models)}")
        if backend == "tensorrt":
            return create_engine(self.tensorrt_plan(name), backend, **options)
        return create_engine(self.path(name), backend, **options)

    def tensorrt_plan(self, name: str) -> Path:
        """The TensorRT plan of model `name` built for this machine's GPU architecture."""
        from eai_avatar.runtime.engines.gpu_arch import current_sm_arch

        built = self.manifest.get("tensorrt", {})
        arch = current_sm_arch()
        if arch is None:
            raise RuntimeError("the TensorRT backend needs an NVIDIA GPU, and none is visible; use onnxruntime")
        if arch not in built or name not in built[arch]:
            have = ", ".join(built) or "none"
            raise RuntimeError(f"the bundle has no TensorRT engine of {name} for this GPU ({arch}; built for: {have}); "
                               "build them here with `eai-avatar export --tensorrt`")  # fmt: skip
        return self.root / built[arch][name]["path"]


def default_bundle_path() -> Path:
    """The bundle that ships inside the package (runtime/bundles/default, trained as its TRAINING.md says)."""
    return Path(__file__).resolve().parent / "bundles" / "default"


def read_manifest(root: Path) -> dict:
    root = Path(root)
    path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(root, ["no such folder"])
    if not path.is_file():
        raise BundleError(root, [f"no {MANIFEST} (make a bundle with `eai-avatar export --out DIR`)"])
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(root, [f"{MANIFEST} is not valid JSON: {exc}"]) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(root, [f"{MANIFEST} is not an {FORMAT} manifest"])
    if manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version")
        raise BundleError(root, [f"format version {found!r}; this runtime reads version {FORMAT_VERSION} "
                                 "(re-export the bundle with this version's `eai-avatar export`)"])  # fmt: skip
    for key in ("models", "assets", "identities"):
        if not isinstance(manifest.get(key), dict):
            raise BundleError(root, [f"{MANIFEST} has no {key!r} table"])
    return manifest


def _check_file(root: Path, label: str, entry: dict, hashes: bool) -> list[str]:
    try:
        path = (root / entry["path"]).resolve()
    except (KeyError, TypeError):
        return [f"{label}: the manifest gives no path"]
    if root.resolve() not in path.parents:
        return [f"{label}: {entry['path']} points outside the bundle"]
    if not path.is_file():
        return [f"{label}: {entry['path']} is missing"]
    size = path.stat().st_size
    if size != entry.get("bytes"):
        return [f"{label}: {entry['path']} has {size} bytes, the manifest says {entry.get('bytes')} (truncated or "
                "replaced)"]  # fmt: skip
    if hashes and sha256_file(path) != entry.get("sha256"):
        return [f"{label}: {entry['path']} does not match its sha256 (the file was changed after export)"]
    return []


def _check_model(root: Path, name: str, data: dict) -> list[str]:
    from eai_avatar.runtime.engines import create_engine

    try:
        entry = ModelEntry.from_json(name, data)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"model {name}: malformed manifest entry ({exc})"]
    try:
        engine = create_engine(root / entry.path)
    except (ValueError, FileNotFoundError) as exc:
        return [f"model {name}: {exc}"]
    problems = []
    for kind, want, got in (("inputs", entry.inputs, engine.input_spec()), ("outputs", entry.outputs,
                                                                              engine.output_spec())):  # fmt: skip
        if list(want) != list(got):
            problems.append(f"model {name}: {kind} are {[spec_to_json(s) for s in got]}, the manifest says "
                            f"{[spec_to_json(s) for s in want]}")  # fmt: skip
    return problems


def check_bundle(
    root: str | Path, manifest: dict | None = None, hashes: bool = True, engines: bool = True
) -> list[str]:
    """Every problem with the bundle at `root`, or [] when it can be used."""
    root = Path(root)
    try:
        manifest = manifest or read_manifest(root)
    except BundleError as exc:
        return exc.problems
    problems = []
    expected = vocabulary()
    for key, value in expected.items():
        if manifest.get(key) != value:
            problems.append(f"{key}: the bundle was made with {manifest.get(key)!r}, this runtime uses {value!r}")
    for name in REQUIRED_MODELS:
        if name not in manifest["models"]:
            problems.append(f"model {name} ({REQUIRED_MODELS[name]}) is missing from the manifest")
    for name in REQUIRED_ASSETS:
        if name not in manifest["assets"]:
            problems.append(f"asset {name} is missing from the manifest")
    if not manifest["identities"]:
        problems.append("the bundle has no identities")
    files = [(f"model {n}", e) for n, e in manifest["models"].items()]
    files += [(f"asset {n}", e) for n, e in manifest["assets"].items()]
    for name, identity in manifest["identities"].items():
        for key in ("rig", "first_mask"):
            files.append((f"identity {name} {key}", manifest.get("files", {}).get(identity.get(key, ""), {})
                           | {"path": identity.get(key)}))  # fmt: skip
    for arch, plans in manifest.get("tensorrt", {}).items():
        files += [(f"TensorRT {arch} {name}", entry) for name, entry in plans.items()]
    for label, entry in files:
        problems += _check_file(root, label, entry, hashes)
    if engines and not problems:  # loading a model that failed its hash could crash onnxruntime; check those first
        for name, data in manifest["models"].items():
            problems += _check_model(root, name, data)
    return problems
