"""fp16 storage: an ONNX model whose large weights are stored in float16 and cast back to float32 at load.

The file is half the size and the arithmetic stays float32: onnxruntime folds the Casts of constant weights
once, when the session is created, so a CPU runs the model as fast as the fp32 original and the only error is
the weights' rounding (relative 2^-11). Full fp16 conversion (precision.to_fp16) computes in fp16 too, which
CPUs mostly cannot do fast, and on CRHMG's transformer it produced a graph that crashed onnxruntime at load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PRECISION = "fp16-weights"
MIN_ELEMENTS = 1024  # small tensors (biases, norms, shapes) stay float32: no size to win, and exact


def to_fp16_weights(src: str | Path, dst: str | Path, min_elements: int = MIN_ELEMENTS) -> Path:
    """Write a copy of `src` with every float32 initializer of `min_elements` or more stored as float16."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"no ONNX model at {src}")
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # onnx raises DecodeError and others for a file that is not a model
        raise ValueError(f"{src} is not an ONNX model: {exc}") from exc
    graph = model.graph
    casts, kept = [], []
    for tensor in graph.initializer:
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < min_elements:
            kept.append(tensor)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), f"{tensor.name}__fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=TensorProto.FLOAT,
                                      name=f"{tensor.name}__to_fp32"))  # fmt: skip
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # the Casts first keeps the graph topologically sorted
    entry = model.metadata_props.add()
    entry.key, entry.value = "precision", PRECISION
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst
