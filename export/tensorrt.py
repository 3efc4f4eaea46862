"""TensorRT engines for a bundle: `eai-avatar export --tensorrt` builds fp16 plans of every model into
bundle/tensorrt/<sm_arch>/ and records them (with sha256) in the manifest, for runtime/engines/tensorrt.py.

Each dynamic axis gets an optimization profile: batch 1..32 (the renderer's optimum at 8, where several avatars'
frames meet), time axes from the shortest the model accepts to a few seconds. Needs an NVIDIA GPU and the
`tensorrt` package (pip install 'eai-avatar[tensorrt]'); elsewhere it stops with that message.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from eai_avatar.runtime.bundle import Bundle, TensorRTPlan
from eai_avatar.runtime.engines.gpu_arch import current_sm_arch

#: (min, opt, max) per named dynamic axis; the time axes in frames at 25 fps.
PROFILES = {"batch": (1, 1, 32), "frames": (2, 32, 256)}
RENDERER_BATCH = (1, 8, 32)
AUDIO2EXP_MIN_FRAMES = 37  # its receptive field: fewer input frames give no output frame
WORKSPACE_BYTES = 4 << 30


def axis_range(model: str, axis_name: str) -> tuple[int, int, int]:
    if model == "renderer" and axis_name == "batch":
        return RENDERER_BATCH
    if model == "audio2exp" and axis_name == "frames":
        return (AUDIO2EXP_MIN_FRAMES, 64, 512)
    if axis_name not in PROFILES:
        raise ValueError(f"{model}: no optimization profile for the dynamic axis {axis_name!r}")
    return PROFILES[axis_name]


def profile_shapes(model: str, shape: tuple) -> tuple[tuple, tuple, tuple]:
    """min, opt and max shapes of one input whose dynamic axes are named (as the manifest records them)."""
    ranges = [axis_range(model, d) if isinstance(d, str) else (d, d, d) for d in shape]
    return tuple(tuple(r[i] for r in ranges) for i in range(3))


def build_engines(bundle_dir: Path) -> Path:
    arch = current_sm_arch()
    if arch is None:
        raise RuntimeError("building TensorRT engines needs an NVIDIA GPU, and none is visible here")
    try:
        import tensorrt
    except ImportError as exc:
        raise ImportError("building TensorRT engines needs the tensorrt package: pip install "
                          "'eai-avatar[tensorrt]'") from exc  # fmt: skip
    bundle = Bundle(bundle_dir)
    folder = bundle.root / "tensorrt" / arch
    folder.mkdir(parents=True, exist_ok=True)
    logger = tensorrt.Logger(tensorrt.Logger.WARNING)
    plans = {}
    for name, entry in bundle.models.items():
        builder = tensorrt.Builder(logger)
        network = builder.create_network(0)
        parser = tensorrt.OnnxParser(network, logger)
        if not parser.parse(bundle.path(name).read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ValueError(f"TensorRT cannot parse {name}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(tensorrt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        config.set_flag(tensorrt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for spec in entry.inputs:
            profile.set_shape(spec.name, *profile_shapes(name, spec.shape))
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build {name} (see its log above)")
        path = folder / f"{name}.plan"
        path.write_bytes(bytes(serialized))
        plans[name] = TensorRTPlan.measure(bundle.root, path, precision="fp16", tensorrt=tensorrt.__version__)
    replace(bundle.manifest, tensorrt={**bundle.manifest.tensorrt, arch: plans}).write(bundle.root)
    return folder
