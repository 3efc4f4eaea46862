"""Seeded noise for an ONNX model that draws its own: each RandomNormalLike node becomes a slice of a fixed bank.

VITS voices (Piper) sample the phoneme durations and the latent with RandomNormalLike. onnxruntime seeds that op
once per session and advances it on every run, so the same sentence never sounds the same twice and no seed can
make it. Here each such node is replaced, in the model's bytes before onnxruntime sees them, by a few standard ops
that tile a bank of N(0, 1) samples drawn from a seed and cut it to the node's shape: the same input then gives the
same audio, and the noise is still Gaussian and independent across values within a bank's length (2^18 values,
e.g. 192 latent channels x 15 s).

The model is edited in the protobuf wire format directly (the `onnx` package is a training-side dependency, not the
runtime's): only GraphProto's node list and initializers are touched, every other byte is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

logger = logging.getLogger(__name__)

#: Values in each node's bank; the noise repeats after this many values of one tensor.
BANK_SIZE = 1 << 18

# onnx.proto field numbers and enums.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 3, 4, 5
_ATTRIBUTE_NAME, _ATTRIBUTE_I = 1, 3
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 8, 9
_FLOAT, _INT64 = 1, 7
_VARINT, _LENGTH_DELIMITED = 0, 2
_FIXED_SIZES = {1: 8, 5: 4}


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of its tag, start of its value, end) of each field of the message in data[start:end];
    a length-delimited value spans [value start, end)."""
    pos = start
    while pos < end:
        tag_start = pos
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value_start = pos
            _, pos = _read_varint(data, pos)
        elif wire == _LENGTH_DELIMITED:
            length, value_start = _read_varint(data, pos)
            pos = value_start + length
        elif wire in _FIXED_SIZES:
            value_start = pos
            pos += _FIXED_SIZES[wire]
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {tag_start}")
        yield number, tag_start, value_start, pos


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _node(op_type: str, inputs: list[str], outputs: list[str], name: str, attributes: bytes = b"") -> bytes:
    body = b"".join(_field(_NODE_INPUT, i.encode()) for i in inputs)
    body += b"".join(_field(_NODE_OUTPUT, o.encode()) for o in outputs)
    body += _field(_NODE_NAME, name.encode()) + _field(_NODE_OP_TYPE, op_type.encode()) + attributes
    return _field(_GRAPH_NODE, body)


def _int_attribute(name: str, value: int) -> bytes:
    body = _field(_ATTRIBUTE_NAME, name.encode()) + _varint(_ATTRIBUTE_I << 3 | _VARINT) + _varint(value)
    body += _varint(20 << 3 | _VARINT) + _varint(2)  # AttributeProto.type = INT
    return _field(_NODE_ATTRIBUTE, body)


def _initializer(name: str, array: np.ndarray) -> bytes:
    data_type = {np.dtype(np.float32): _FLOAT, np.dtype(np.int64): _INT64}[array.dtype]
    body = _field(_TENSOR_DIMS, b"".join(_varint(d) for d in array.shape)) if array.ndim else b""
    body += _varint(_TENSOR_DATA_TYPE << 3 | _VARINT) + _varint(data_type) + _field(_TENSOR_NAME, name.encode())
    body += _field(_TENSOR_RAW_DATA, array.astype(array.dtype.newbyteorder("<")).tobytes())
    return _field(_GRAPH_INITIALIZER, body)


def _random_normal_like(data: bytes, start: int, end: int) -> tuple[str, str, str] | None:
    """(name, input, output) of a node that is a plain RandomNormalLike (float32, mean 0, scale 1), else None."""
    op_type, name, inputs, outputs, attributes = "", "", [], [], {}
    for number, _, value_start, value_end in _fields(data, start, end):
        text = data[value_start:value_end]
        if number == _NODE_OP_TYPE:
            op_type = text.decode()
        elif number == _NODE_NAME:
            name = text.decode()
        elif number == _NODE_INPUT:
            inputs.append(text.decode())
        elif number == _NODE_OUTPUT:
            outputs.append(text.decode())
        elif number == _NODE_ATTRIBUTE:
            attribute = {n: (s, e) for n, _, s, e in _fields(data, value_start, value_end)}
            key = data[slice(*attribute[_ATTRIBUTE_NAME])].decode() if _ATTRIBUTE_NAME in attribute else ""
            attributes[key] = _read_varint(data, attribute[_ATTRIBUTE_I][0])[0] if _ATTRIBUTE_I in attribute else None
    if op_type != "RandomNormalLike":
        return None
    if attributes != {"dtype": _FLOAT} or len(inputs) != 1 or len(outputs) != 1:
        logger.warning("RandomNormalLike node %r has attributes %s: left as it is (its noise is not seeded)",
                       name, sorted(attributes))  # fmt: skip
        return None
    return name, inputs[0], outputs[0]


def _replacement(index: int, source: str, output: str, bank: np.ndarray) -> tuple[bytes, bytes]:
    """Nodes and initializers computing `output` = the bank tiled to the element count of `source`, in its shape."""
    p = f"/seeded_noise_{index}"
    nodes = [
        _node("Shape", [source], [f"{p}/shape"], f"{p}/Shape"),
        _node("ReduceProd", [f"{p}/shape"], [f"{p}/count"], f"{p}/ReduceProd"),
        _node("Add", [f"{p}/count", f"{p}/size_minus_one"], [f"{p}/padded"], f"{p}/Add"),
        _node("Div", [f"{p}/padded", f"{p}/size"], [f"{p}/repeats"], f"{p}/Div"),
        _node("Tile", [f"{p}/bank", f"{p}/repeats"], [f"{p}/tiled"], f"{p}/Tile"),
        _node("Slice", [f"{p}/tiled", f"{p}/zero", f"{p}/count"], [f"{p}/flat"], f"{p}/Slice"),
        _node("Reshape", [f"{p}/flat", f"{p}/shape"], [output], f"{p}/Reshape"),
    ]
    initializers = [
        _initializer(f"{p}/bank", bank),
        _initializer(f"{p}/size", np.array([len(bank)], np.int64)),
        _initializer(f"{p}/size_minus_one", np.array([len(bank) - 1], np.int64)),
        _initializer(f"{p}/zero", np.array([0], np.int64)),
    ]
    return b"".join(nodes), b"".join(initializers)


def seed_random_normals(model: bytes, seed: int) -> tuple[bytes, int]:
    """`model` (a serialized ONNX ModelProto) with every plain RandomNormalLike drawing from a bank seeded by `seed`;
    returns the new bytes and the number of nodes replaced (0: the model is returned as it was)."""
    graph = next(((s, e, t) for n, t, s, e in _fields(model, 0, len(model)) if n == _MODEL_GRAPH), None)
    if graph is None:
        raise ValueError("not an ONNX model: no graph")
    graph_start, graph_end, graph_tag = graph
    streams = np.random.SeedSequence(seed)
    parts, extra, replaced, cursor = [], [], 0, graph_start
    for number, tag_start, value_start, end in _fields(model, graph_start, graph_end):
        if number != _GRAPH_NODE:
            continue
        found = _random_normal_like(model, value_start, end)
        if found is None:
            continue
        _, source, output = found
        bank = np.random.default_rng(streams.spawn(1)[0]).standard_normal(BANK_SIZE).astype(np.float32)
        nodes, initializers = _replacement(replaced, source, output, bank)
        parts += [model[cursor:tag_start], nodes]
        extra.append(initializers)
        cursor, replaced = end, replaced + 1
    if not replaced:
        return model, 0
    body = b"".join([*parts, model[cursor:graph_end], *extra])
    return model[:graph_tag] + _field(_MODEL_GRAPH, body) + model[graph_end:], replaced
