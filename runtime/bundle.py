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

`Manifest` is manifest.json as typed data, for the writer (export/bundle.py) and this reader alike, so the two
cannot disagree on a key: `Manifest.read(root)` refuses a malformed file with every reason, `write(root)` writes
it back in the same JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
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


class _NoPath(ValueError):
    """A file entry without a path."""


def _typed(data: dict, key: str, kind: type | tuple[type, ...]):
    """data[key], refused unless it is of `kind` (a KeyError names a missing key)."""
    if not isinstance(data, dict):
        raise TypeError(f"{data!r} is not a table")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValueError(f"{key} is {value!r}")
    return value


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def _list(value):
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Vocabulary:
    """The constants a bundle must share with the runtime that loads it; as recorded, compared by `check_bundle`."""

    fps: int
    sample_rate: int
    image_size: tuple[int, int]
    emotions: tuple[str, ...]
    blendshapes: tuple[str, ...]

    @classmethod
    def current(cls) -> Vocabulary:
        """This runtime's."""
        return cls(FPS, SAMPLE_RATE, tuple(IMAGE_SIZE), tuple(EMOTIONS), tuple(ARKIT_BLENDSHAPES))

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        # Kept as found (None where missing): a bundle of another vocabulary is named by check_bundle, not here.
        return cls(**{f.name: _tuple(data.get(f.name)) for f in fields(cls)})

    def to_json(self) -> dict:
        return {f.name: _list(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class FileEntry:
    """A file of the bundle: its path relative to the bundle, sha256 and size, checked at load."""

    path: str
    sha256: str
    bytes: int

    @classmethod
    def measure(cls, root: Path, path: Path, **more):
        """The entry of the file at `path` inside the bundle at `root`, as it is now (`more`: a subclass's fields)."""
        return cls(path=str(path.relative_to(root)), sha256=sha256_file(path), bytes=path.stat().st_size, **more)

    @classmethod
    def from_json(cls, data: dict) -> FileEntry:
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            raise _NoPath("the manifest gives no path")
        return cls(_typed(data, "path", str), _typed(data, "sha256", str), _typed(data, "bytes", int))

    def to_json(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.bytes}


@dataclass(frozen=True)
class ModelEntry(FileEntry):
    """An ONNX model of the bundle: its file, precision and tensors (checked against the model at load)."""

    name: str
    precision: str  # fp32, fp16, fp16-weights or int8
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: dict = field(default_factory=dict)  # the ONNX model's metadata_props
    export: dict = field(default_factory=dict)  # what the exporter measured: parity with PyTorch, precision errors

    @classmethod
    def from_json(cls, name: str, data: dict) -> ModelEntry:
        return cls(**asdict(FileEntry.from_json(data)), name=name, precision=_typed(data, "precision", str),
                   inputs=tuple(spec_from_json(s) for s in _typed(data, "inputs", list)),
                   outputs=tuple(spec_from_json(s) for s in _typed(data, "outputs", list)),
                   metadata=dict(data.get("metadata", {})), export=dict(data.get("export", {})))  # fmt: skip

    def to_json(self) -> dict:
        return {**super().to_json(), "precision": self.precision, "inputs": [spec_to_json(s) for s in self.inputs],
                "outputs": [spec_to_json(s) for s in self.outputs], "metadata": self.metadata,
                "export": self.export}  # fmt: skip


@dataclass(frozen=True)
class TensorRTPlan(FileEntry):
    """A TensorRT engine built from one model for one GPU architecture."""

    precision: str = "fp16"
    tensorrt: str = ""  # the TensorRT version that built it

    @classmethod
    def from_json(cls, data: dict) -> TensorRTPlan:
        return cls(**asdict(FileEntry.from_json(data)), precision=_typed(data, "precision", str),
                   tensorrt=_typed(data, "tensorrt", str))  # fmt: skip

    def to_json(self) -> dict:
        return {**super().to_json(), "precision": self.precision, "tensorrt": self.tensorrt}


@dataclass(frozen=True)
class Identity:
    """A character the bundle renders, with what the runtime needs to start its streams."""

    name: str
    display_name: str
    renderer_index: int  # the renderer's identity input for this character
    voice: str  # a voice chain ("hibari:heart|en-us+f3"): the first voice installed speaks (runtime/tts/voices.py)
    rig: str  # path of rig.json
    first_mask: str  # path of the neutral head mask CRHMG starts from

    @classmethod
    def from_json(cls, name: str, data: dict) -> Identity:
        return cls(name, _typed(data, "display_name", str), _typed(data, "renderer_index", int),
                   _typed(data, "voice", str), _typed(data, "rig", str), _typed(data, "first_mask", str))  # fmt: skip

    def to_json(self) -> dict:
        return {"display_name": self.display_name, "renderer_index": self.renderer_index, "voice": self.voice,
                "rig": self.rig, "first_mask": self.first_mask}  # fmt: skip


#: The manifest's optional top-level records: those written before the vocabulary, and those after the tables.
_HEADER, _RECORDS = ("eai_avatar_version", "created"), ("embedder", "mask_size", "seconds")


@dataclass(frozen=True)
class Manifest:
    """manifest.json (format version 1) as typed data; `to_json` gives back the JSON `from_json` read."""

    vocabulary: Vocabulary
    models: dict[str, ModelEntry]
    assets: dict[str, FileEntry]
    identities: dict[str, Identity]
    files: dict[str, FileEntry] = field(default_factory=dict)  # the identities' files, by path
    tensorrt: dict[str, dict[str, TensorRTPlan]] = field(default_factory=dict)  # by sm_arch, then model
    eai_avatar_version: str | None = None
    created: str | None = None  # UTC, ISO 8601
    embedder: dict | None = None  # where the sentence embedder comes from (it is not in the bundle)
    mask_size: int | None = None
    seconds: float | None = None  # how long the export took
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept so a rewrite loses none
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def files_to_check(self) -> list[tuple[str, FileEntry]]:
        """(label, entry) of every file the bundle's integrity rests on, labelled for error messages."""
        entries: list[tuple[str, FileEntry]] = [(f"model {n}", e) for n, e in self.models.items()]
        entries += [(f"asset {n}", e) for n, e in self.assets.items()]
        for name, identity in self.identities.items():
            entries += [(f"identity {name} rig", self.files[identity.rig]),
                        (f"identity {name} first_mask", self.files[identity.first_mask])]  # fmt: skip
        for arch, plans in self.tensorrt.items():
            entries += [(f"TensorRT {arch} {name}", entry) for name, entry in plans.items()]
        return entries

    @classmethod
    def read(cls, root: str | Path) -> Manifest:
        """The manifest of the bundle at `root`; a `BundleError` lists why when there is none or it is malformed."""
        root = Path(root)
        path = root / MANIFEST
        if not root.is_dir():
            raise BundleError(root, ["no such folder"])
        if not path.is_file():
            raise BundleError(root, [f"no {MANIFEST} (make a bundle with `eai-avatar export --out DIR`)"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(root, [f"{MANIFEST} is not valid JSON: {exc}"]) from exc
        return cls.from_json(data, root)

    @classmethod
    def from_json(cls, data, root: str | Path = ".") -> Manifest:
        """Refuses (`BundleError`, every problem listed) data that is not a version-1 manifest or is malformed;
        whether the files and models match it is `check_bundle`'s to say."""
        root = Path(root)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BundleError(root, [f"{MANIFEST} is not an {FORMAT} manifest"])
        if data.get("format_version") != FORMAT_VERSION:
            found = data.get("format_version")
            raise BundleError(root, [f"format version {found!r}; this runtime reads version {FORMAT_VERSION} "
                                     "(re-export the bundle with this version's `eai-avatar export`)"])  # fmt: skip
        problems = [f"{MANIFEST} has no {key!r} table" for key in ("models", "assets", "identities")
                    if not isinstance(data.get(key), dict)]  # fmt: skip
        problems += [f"{MANIFEST}: {key!r} is not a table" for key in ("files", "tensorrt")
                     if not isinstance(data.get(key, {}), dict)]  # fmt: skip
        if problems:
            raise BundleError(root, problems)

        def parse(label: str, make, *args):
            try:
                return make(*args)
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{label}: {exc}" if isinstance(exc, _NoPath) else
                                f"{label}: malformed manifest entry ({exc})")  # fmt: skip
                return None

        models = {n: parse(f"model {n}", ModelEntry.from_json, n, e) for n, e in data["models"].items()}
        assets = {n: parse(f"asset {n}", FileEntry.from_json, e) for n, e in data["assets"].items()}
        files = {p: parse(f"file {p}", FileEntry.from_json, e) for p, e in data.get("files", {}).items()}
        identities = {n: parse(f"identity {n}", Identity.from_json, n, e) for n, e in data["identities"].items()}
        for name, identity in identities.items():
            for key in ("rig", "first_mask"):
                path = getattr(identity, key, None)
                if path is not None and path not in files:
                    problems.append(f"identity {name} {key}: {path} is not among the manifest's files")
        tensorrt = {}
        for arch, plans in data.get("tensorrt", {}).items():
            if not isinstance(plans, dict):
                problems.append(f"TensorRT {arch}: malformed manifest entry (not a table)")
                continue
            tensorrt[arch] = {n: parse(f"TensorRT {arch} {n}", TensorRTPlan.from_json, e) for n, e in plans.items()}
        if problems:
            raise BundleError(root, problems)
        known = {"format", "format_version", "models", "assets", "files", "identities", "tensorrt", *_HEADER,
                 *_RECORDS, *(f.name for f in fields(Vocabulary))}  # fmt: skip
        return cls(vocabulary=Vocabulary.from_json(data), models=models, assets=assets, identities=identities,
                   files=files, tensorrt=tensorrt, **{key: data.get(key) for key in (*_HEADER, *_RECORDS)},
                   extra={k: v for k, v in data.items() if k not in known})  # fmt: skip

    def to_json(self) -> dict:
        """The JSON data of manifest.json, keys in the order the exporter has always written them."""
        data = {"format": self.format, "format_version": self.format_version}
        data |= {key: getattr(self, key) for key in _HEADER if getattr(self, key) is not None}
        data |= self.vocabulary.to_json()
        data["models"] = {name: entry.to_json() for name, entry in self.models.items()}
        data["assets"] = {name: entry.to_json() for name, entry in self.assets.items()}
        data["files"] = {path: entry.to_json() for path, entry in self.files.items()}
        data["identities"] = {name: identity.to_json() for name, identity in self.identities.items()}
        data |= {key: getattr(self, key) for key in _RECORDS if getattr(self, key) is not None}
        if self.tensorrt:
            data["tensorrt"] = {arch: {n: e.to_json() for n, e in plans.items()} for arch, plans in
                                self.tensorrt.items()}  # fmt: skip
        return data | self.extra

    def write(self, root: Path) -> None:
        (Path(root) / MANIFEST).write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")


class Bundle:
    """A verified bundle. `path(name)` gives a model's or asset's file; `engine(name)` loads a model.

    Loading checks the manifest, the vocabulary and every file's size and sha256; each model's inputs and outputs
    are checked against the manifest when `engine(name)` loads it, so a server loads each model once (checking all
    of them up front, then loading them again to serve, cost 20-40 MB that the allocator kept)."""

    def __init__(self, root: str | Path, verify: bool = True):
        self.root = Path(root)
        self.manifest = Manifest.read(self.root)
        self.verify = verify
        if verify:
            problems = check_bundle(self.root, self.manifest, engines=False)
            if problems:
                raise BundleError(self.root, problems)
        self.models = self.manifest.models
        self.identities = self.manifest.identities

    def path(self, name: str) -> Path:
        entry = self.manifest.models.get(name) or self.manifest.assets.get(name)
        if entry is None:
            raise KeyError(f"the bundle has no model or asset {name!r}")
        return self.root / entry.path

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
        if backend == "triton":  # served under the bundle's name; the engine checks it against the manifest entry
            return create_engine(self.path(name), backend, model=name, expected=self.models[name], **options)
        engine = create_engine(self.path(name), backend, **options)
        problems = _interface_problems(self.models[name], engine) if self.verify else []
        if problems:
            raise BundleError(self.root, problems)
        return engine

    def tensorrt_plan(self, name: str) -> Path:
        """The TensorRT plan of model `name` built for this machine's GPU architecture."""
        from eai_avatar.runtime.engines.gpu_arch import current_sm_arch

        built = self.manifest.tensorrt
        arch = current_sm_arch()
        if arch is None:
            raise RuntimeError("the TensorRT backend needs an NVIDIA GPU, and none is visible; use onnxruntime")
        if arch not in built or name not in built[arch]:
            have = ", ".join(built) or "none"
            raise RuntimeError(f"the bundle has no TensorRT engine of {name} for this GPU ({arch}; built for: {have}); "
                               "build them here with `eai-avatar export --tensorrt`")  # fmt: skip
        return self.root / built[arch][name].path


def default_bundle_path() -> Path:
    """The bundle that ships inside the package (runtime/bundles/default, trained as its TRAINING.md says)."""
    return Path(__file__).resolve().parent / "bundles" / "default"


def read_manifest(root: str | Path) -> dict:
    """The manifest of the bundle at `root` as plain JSON data, refused as `Manifest.read` refuses it (for callers
    that print or pass it on; typed code uses `Manifest.read`)."""
    return Manifest.read(root).to_json()


def _check_file(root: Path, label: str, entry: FileEntry, hashes: bool) -> list[str]:
    path = (root / entry.path).resolve()
    if root.resolve() not in path.parents:
        return [f"{label}: {entry.path} points outside the bundle"]
    if not path.is_file():
        return [f"{label}: {entry.path} is missing"]
    size = path.stat().st_size
    if size != entry.bytes:
        return [f"{label}: {entry.path} has {size} bytes, the manifest says {entry.bytes} (truncated or replaced)"]
    if hashes and sha256_file(path) != entry.sha256:
        return [f"{label}: {entry.path} does not match its sha256 (the file was changed after export)"]
    return []


def _check_model(root: Path, entry: ModelEntry) -> list[str]:
    from eai_avatar.runtime.engines import create_engine

    try:
        engine = create_engine(root / entry.path)
    except (ValueError, FileNotFoundError) as exc:
        return [f"model {entry.name}: {exc}"]
    return _interface_problems(entry, engine)


def _interface_problems(entry: ModelEntry, engine) -> list[str]:
    """How a loaded model's inputs and outputs differ from what the manifest says ([] when they agree)."""
    problems = []
    for kind, want, got in (("inputs", entry.inputs, engine.input_spec()), ("outputs", entry.outputs,
                                                                              engine.output_spec())):  # fmt: skip
        if list(want) != list(got):
            problems.append(f"model {entry.name}: {kind} are {[spec_to_json(s) for s in got]}, the manifest says "
                            f"{[spec_to_json(s) for s in want]}")  # fmt: skip
    return problems


def check_bundle(
    root: str | Path, manifest: Manifest | None = None, hashes: bool = True, engines: bool = True
) -> list[str]:
    """Every problem with the bundle at `root`, or [] when it can be used."""
    root = Path(root)
    try:
        manifest = manifest if manifest is not None else Manifest.read(root)
    except BundleError as exc:
        return exc.problems
    problems = []
    found = manifest.vocabulary.to_json()
    for key, value in Vocabulary.current().to_json().items():
        if found[key] != value:
            problems.append(f"{key}: the bundle was made with {found[key]!r}, this runtime uses {value!r}")
    for name in REQUIRED_MODELS:
        if name not in manifest.models:
            problems.append(f"model {name} ({REQUIRED_MODELS[name]}) is missing from the manifest")
    for name in REQUIRED_ASSETS:
        if name not in manifest.assets:
            problems.append(f"asset {name} is missing from the manifest")
    if not manifest.identities:
        problems.append("the bundle has no identities")
    for label, entry in manifest.files_to_check():
        problems += _check_file(root, label, entry, hashes)
    if engines and not problems:  # loading a model that failed its hash could crash onnxruntime; check those first
        for entry in manifest.models.values():
            problems += _check_model(root, entry)
    return problems
