"""fp16 and int8 variants of an exported ONNX model, and their error against the fp32 original.

Both variants keep the fp32 model's interface: float32 in, float32 out, int64 inputs untouched, the same dynamic
axes and the same metadata (Audio2Exp's receptive field lives there), so a runtime can swap files without
changing its feeds. `compare` runs both through the runtime's own engine and reports the error per output.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Recorded in each variant's metadata, so a report or a bench can say which file it ran.
PRECISION_KEY = "precision"
# int8 only: the activation tensors `to_int8(tolerance=...)` left in float32, comma-separated.
FLOAT_TENSORS_KEY = "int8_float_tensors"
# Feeds the sensitivity scan of `to_int8(tolerance=...)` uses.
SENSITIVITY_FEEDS = 4


def _load_source(src: str | Path):
    """The ONNX model at `src`; FileNotFoundError when missing, ValueError when it is not a valid ONNX model."""
    import onnx

    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"ONNX model not found: {src}")
    try:
        model = onnx.load(str(src))
        onnx.checker.check_model(model)
    except Exception as exc:  # protobuf's DecodeError or onnx's ValidationError, depending on how it is broken
        raise ValueError(f"{src} is not a valid ONNX model: {exc}") from exc
    if not model.graph.node:
        # Arbitrary bytes sometimes parse as an empty ModelProto that passes the checker.
        raise ValueError(f"{src} is not a valid ONNX model: its graph has no nodes")
    return model


def _destination(src: Path, dst: str | Path) -> Path:
    dst = Path(dst)
    if dst.resolve() == Path(src).resolve():
        raise ValueError(f"the variant would overwrite its source {src}; pick another destination")
    dst.parent.mkdir(parents=True, exist_ok=True)
    return dst


def _finish(model, source, dst: Path, precision: str, extra: dict[str, str] | None = None) -> Path:
    """Copy the source's metadata, tag the precision, check, save."""
    import onnx

    props = {p.key: p.value for p in source.metadata_props}
    props[PRECISION_KEY] = precision
    props.update(extra or {})
    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


def _copy(model):
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return copy


def to_fp16(src: str | Path, dst: str | Path) -> Path:
    """Write an fp16 copy of the ONNX model at `src` to `dst`; inputs and outputs stay float32 (cast inside)."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    source = _load_source(src)
    dst = _destination(Path(src), dst)
    # Transpose stays float32: with fp16 Transposes (CRHMG's generator) onnxruntime 1.32's CPU session segfaults
    # while loading, in its NchwcTransformer; a Transpose only moves data, so fp16 would gain it nothing but memory.
    model = convert_float_to_float16(
        _copy(source), keep_io_types=True, op_block_list=[*DEFAULT_OP_BLOCK_LIST, "Transpose"]
    )
    # The converter appends the input Casts at the end of the node list, which the checker rejects (nodes must be
    # topologically sorted; microsoft/onnxconverter-common#208); onnxruntime's own sort fixes the order.
    wrapped = OnnxModel(model)
    wrapped.topological_sort()
    return _finish(wrapped.model, source, dst, "fp16")


# Where onnxruntime's symbolic shape inference saves its partial model when it gives up: the working directory.
_SYMBOLIC_LEFTOVER = "sym_shape_infer_temp.onnx"


def _prepare(src: Path, dst: Path) -> None:
    """onnxruntime's pre-processing before static quantization: symbolic shape inference, graph optimization, ONNX
    shape inference, as its quantization guide asks (the quantizer needs every tensor's shape; fewer nodes to wrap).
    """
    from onnxruntime.quantization import quant_pre_process

    leftover_existed = Path(_SYMBOLIC_LEFTOVER).exists()
    try:
        quant_pre_process(str(src), str(dst))
    except Exception as exc:  # onnxruntime raises a plain Exception("Incomplete symbolic shape inference")
        # Symbolic inference gives up on some graphs with symbolic time axes (CRHMG's transformer); ONNX's own
        # shape inference, which runs anyway, is then enough for the quantizer.
        logger.info("symbolic shape inference failed for %s (%s); pre-processing without it", src, exc)
        if not leftover_existed:
            _remove_symbolic_leftover()
        quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)


def _remove_symbolic_leftover() -> None:
    """Delete the partial model symbolic shape inference saved in the working directory, and its weights file."""
    import onnx

    leftover = Path(_SYMBOLIC_LEFTOVER)
    if not leftover.is_file():
        return
    model = onnx.load(str(leftover), load_external_data=False)
    weights = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    for name in weights:
        (leftover.parent / name).unlink(missing_ok=True)
    leftover.unlink()


def _session(model, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _activation_ranges(model, feeds: list[dict[str, np.ndarray]], threads: int) -> dict[str, tuple[float, float]]:
    """(min, max) over `feeds` of every float tensor a node makes and every float graph input, widened to hold 0
    (as quantize_static's min-max calibration does, so that 0 stays exact)."""
    from onnx import helper

    probe = _copy(model)
    known = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in known:
                probe.graph.output.append(helper.make_empty_tensor_value_info(name))
                known.add(name)
    session = _session(probe, threads)
    names = [o.name for o in session.get_outputs()]
    ranges: dict[str, tuple[float, float]] = {}
    for feed in feeds:
        values = dict(zip(names, session.run(names, feed), strict=True))
        values.update(feed)
        for name, value in values.items():
            value = np.asarray(value)
            if value.dtype != np.float32 or value.size == 0:
                continue
            low, high = ranges.get(name, (0.0, 0.0))
            ranges[name] = (min(low, float(value.min())), max(high, float(value.max())))
    return {name: r for name, r in ranges.items() if r[1] > r[0]}


def _fake_quantized(model, name: str, low: float, high: float):
    """`model` with only tensor `name` rounded to uint8 on [low, high] (QuantizeLinear -> DequantizeLinear)."""
    from onnx import helper, numpy_helper

    scale = (high - low) / 255.0
    zero = int(np.clip(round(-low / scale), 0, 255))
    copy = _copy(model)
    graph = copy.graph
    scale_name, zero_name = f"{name}/scale", f"{name}/zero"
    graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), scale_name),
                              numpy_helper.from_array(np.array(zero, np.uint8), zero_name)])  # fmt: skip

    def rounding(before: str, after: str) -> list:
        return [helper.make_node("QuantizeLinear", [before, scale_name, zero_name], [f"{name}/uint8"]),
                helper.make_node("DequantizeLinear", [f"{name}/uint8", scale_name, zero_name], [after])]  # fmt: skip

    nodes = list(graph.node)
    if any(i.name == name for i in graph.input):
        # A graph input keeps its name (callers feed it); its readers read the rounded copy instead.
        rounded = f"{name}/rounded"
        for node in nodes:
            node.input[:] = [rounded if i == name else i for i in node.input]
        ordered = rounding(name, rounded) + nodes
    else:
        # The producer writes the exact value under a new name and the rounded value takes the old one, so every
        # reader, a graph output of that name included, sees it without rewiring.
        exact, ordered = f"{name}/exact", []
        for node in nodes:
            ordered.append(node)
            if name in node.output:
                node.output[:] = [exact if o == name else o for o in node.output]
                ordered.extend(rounding(exact, name))
    del graph.node[:]
    graph.node.extend(ordered)
    return copy


def sensitivity(src: str | Path, calibration: list[dict[str, np.ndarray]], threads: int = 1) -> dict[str, float]:
    """How much rounding each activation tensor to 8 bits, alone, moves the model's outputs.

    For every float tensor of the model at `src`: the mean absolute output error over `calibration` (the worst
    output for a model with several) when that tensor alone is quantized to uint8 over its calibration range, as
    quantize_static would. Worst first. One session per tensor, so pass a few feeds, not hundreds.
    """
    model = _load_source(src)
    if not calibration:
        raise ValueError("sensitivity needs calibration feeds; got none")
    reference_session = _session(model, threads)
    outputs = [o.name for o in reference_session.get_outputs()]
    reference = [reference_session.run(outputs, feed) for feed in calibration]
    errors = {}
    for name, (low, high) in _activation_ranges(model, calibration, threads).items():
        session = _session(_fake_quantized(model, name, low, high), threads)
        worst = 0.0
        for feed, expected in zip(calibration, reference, strict=True):
            actual = session.run(outputs, feed)
            worst = max(worst, *(float(np.abs(a - e).mean()) for a, e in zip(actual, expected, strict=True)))
        errors[name] = worst
    return dict(sorted(errors.items(), key=lambda item: -item[1]))


def _name_nodes(model) -> None:
    """quantize_static excludes nodes by name; give unnamed ones a stable name."""
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"


def to_int8(
    src: str | Path,
    dst: str | Path,
    calibration: list[dict[str, np.ndarray]],
    tolerance: float | None = None,
    reduce_range: bool = False,
    threads: int = 1,
) -> Path:
    """Write a statically quantized int8 copy of the model at `src` to `dst` (QDQ, per-channel weights).

    calibration: feeds like the model's real inputs (a few dozen frames); their activation ranges (min-max) fix
        the activations' scales. Inputs and outputs stay float32.
    tolerance: None quantizes every tensor onnxruntime can. A number keeps in float32 each activation tensor whose
        8-bit rounding alone moves the outputs by more than this mean absolute error on the first feeds (see
        `sensitivity`): networks that cancel large activations (the renderer's FiLM, ±500 before its last ReLU)
        lose most of their quality to one or two such tensors. Kept tensors are listed in the metadata.
    reduce_range: 7-bit weights, for x86 CPUs without VNNI, where 8-bit products can saturate.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    source = _load_source(src)
    dst = _destination(Path(src), dst)
    if not calibration:
        raise ValueError("int8 quantization needs calibration feeds; got none")
    names = {i.name for i in source.graph.input} - {t.name for t in source.graph.initializer}
    for index, feed in enumerate(calibration):
        if set(feed) != names:
            raise ValueError(f"calibration feed {index} has inputs {sorted(feed)}, the model wants {sorted(names)}")

    class Feeds(CalibrationDataReader):
        """The calibration feeds, one per get_next() call, then None."""

        def __init__(self):
            self._feeds = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    with tempfile.TemporaryDirectory() as work:
        prepared, quantized = Path(work) / "prepared.onnx", Path(work) / "quantized.onnx"
        _prepare(Path(src), prepared)
        model = onnx.load(str(prepared))
        _name_nodes(model)
        onnx.save(model, str(prepared))
        keep: list[str] = []
        exclude: set[str] = set()
        if tolerance is not None:
            # A few feeds are enough to rank tensors, and the scan runs the model once per tensor.
            errors = sensitivity(prepared, calibration[:SENSITIVITY_FEEDS], threads)
            keep = [name for name, error in errors.items() if error > tolerance]
            # A tensor stays float only if neither the node that makes it nor any node that reads it is quantized.
            exclude = {n.name for n in model.graph.node if set(keep) & (set(n.input) | set(n.output))}
            logger.info("int8: keeping %d tensors in float32 (%s)", len(keep), ", ".join(keep))
        quantize_static(
            prepared, quantized, Feeds(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
            # uint8 activations, int8 weights: what onnxruntime's quantize_static guide advises for x86 CPUs.
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=sorted(exclude),
        )  # fmt: skip
        result = onnx.load(str(quantized))
    extra = {FLOAT_TENSORS_KEY: ",".join(keep)} if keep else {}
    return _finish(result, source, dst, "int8", extra)


def compare(
    reference: str | Path, variant: str | Path, feeds: list[dict[str, np.ndarray]], threads: int = 1
) -> dict[str, dict[str, float]]:
    """Max and mean absolute error of each of `variant`'s outputs against `reference`'s over `feeds`.

    Returns {output name: {"max_abs": ..., "mean_abs": ...}}; the mean is over every element of every feed.
    """
    from eai_avatar.runtime.engines import create_engine

    if not feeds:
        raise ValueError("compare needs at least one feed")
    expected_engine = create_engine(reference, threads=threads)
    actual_engine = create_engine(variant, threads=threads)
    out_names = [spec.name for spec in expected_engine.output_spec()]
    if out_names != [spec.name for spec in actual_engine.output_spec()]:
        raise ValueError(f"{variant} and {reference} have different outputs")
    worst = dict.fromkeys(out_names, 0.0)
    total = dict.fromkeys(out_names, 0.0)
    count = dict.fromkeys(out_names, 0)
    for feed in feeds:
        expected, actual = expected_engine.run(feed), actual_engine.run(feed)
        for name in out_names:
            error = np.abs(actual[name].astype(np.float64) - expected[name].astype(np.float64))
            worst[name] = max(worst[name], float(error.max(initial=0.0)))
            total[name] += float(error.sum())
            count[name] += error.size
    return {name: {"max_abs": worst[name], "mean_abs": total[name] / max(count[name], 1)} for name in out_names}
