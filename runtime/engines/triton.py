"""The Triton backend: a model served by an NVIDIA Triton Inference Server, called over gRPC (the KServe v2
protocol, through `tritonclient`), behind the same Engine interface as onnxruntime.

Many runtime replicas can share one Triton: its dynamic batcher gathers the renderer's frames of every session
into the batches a GPU runs well (`eai-avatar export --triton-repo` writes the model repository for a GPU server;
`eai-avatar triton serve` serves a bundle's ONNX files on this machine's CPU).

At load the engine asks the server for the model and checks what it serves against the bundle's manifest entry
(names, dtypes, axes): a server with another model under that name is refused then, not at the first turn. A server
that is unreachable, a model that is not ready, a request that fails or times out: each is `EngineUnavailable`
(the client gets UNAVAILABLE), and the next call connects afresh, so a Triton that comes back is used again.

Needs `tritonclient` (pip install 'eai-avatar[triton]').
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eai_avatar.runtime.engines.base import Engine, TensorSpec
from eai_avatar.runtime.errors import EngineUnavailable

_TRITON_TYPES = {"float32": "FP32", "float16": "FP16", "int64": "INT64", "int32": "INT32"}
_NUMPY_TYPES = {triton: numpy for numpy, triton in _TRITON_TYPES.items()}
#: gRPC's largest message (tritonclient's own default): a renderer batch of 32 frames is 32 MB each way.
_MAX_MESSAGE = 2**31 - 1
# A channel of its own (no subchannel shared with an earlier, failed one) that retries a lost server within a
# second, not gRPC's default backoff of up to two minutes: a Triton that comes back is used at the next turn.
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", _MAX_MESSAGE),
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
#: Statuses after which the channel is dropped and the next call connects afresh.
_CONNECTION_FAULTS = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")


class TritonModelMismatch(ValueError):
    """The server's model takes or gives other tensors than the bundle's model of that name."""


@dataclass(frozen=True)
class _Wire:
    """How one of the bundle's tensors travels: as it is, or (`item_axis`) a per-item scalar of shape [batch]
    sent as [batch, 1], the `dims: [1]` Triton needs for a batched model (export/triton.py writes it so)."""

    spec: TensorSpec
    datatype: str
    item_axis: bool = False

    def shape(self, value: np.ndarray) -> list[int]:
        return [*value.shape, 1] if self.item_axis else list(value.shape)


class TritonEngine(Engine):
    """Args:
    path: the bundle's copy of the model (named in messages; the server runs its own copy).
    url: the server's gRPC address, host:port (Triton's default port is 8001).
    model: the model's name on the server (the runtime uses the bundle's model name).
    expected: the bundle's manifest entry for the model (anything with `inputs`, `outputs` and `metadata`): the
        served model must match it. Without it, the server's description is taken as it is.
    timeout_s: the longest wait for one call (connecting, loading checks, each inference).
    threads: ignored (the server has its own); accepted so every backend takes the runtime's options.
    """

    name = "triton"

    def __init__(self, path: str | Path | None = None, url: str = "127.0.0.1:8001", model: str | None = None,
                 expected=None, timeout_s: float = 10.0, threads: int | None = None):  # fmt: skip
        try:
            import tritonclient.grpc  # noqa: F401 - imported here so the other backends never need it
        except ImportError as exc:
            raise ImportError("the triton engine backend needs tritonclient: pip install 'eai-avatar[triton]'") from exc
        if model is None and path is None:
            raise ValueError("the triton backend needs the model's name on the server (or the bundle's file)")
        self.path = Path(path) if path is not None else None
        self.model = model or self.path.stem
        self.url, self.timeout_s = url, timeout_s
        self._expected = expected
        self._lock = threading.Lock()
        self._client_in_use = None
        self._describe()

    # ------------------------------------------------------------------ the server's model

    def _client(self):
        """The gRPC client, made on first use and after a connection fault (a fresh channel reconnects at once)."""
        from tritonclient.grpc import InferenceServerClient

        with self._lock:
            if self._client_in_use is None:
                self._client_in_use = InferenceServerClient(self.url, channel_args=_CHANNEL_ARGS)
            return self._client_in_use

    def _forget(self, client) -> None:
        with self._lock:
            if self._client_in_use is client:
                self._client_in_use = None

    def _call(self, what: str, method: str, *args, **kwargs):
        """client.method(...), a Triton fault raised as EngineUnavailable saying what the model could not do
        (`what`: load or run) and why."""
        from tritonclient.utils import InferenceServerException

        client = self._client()
        try:
            return getattr(client, method)(*args, client_timeout=self.timeout_s, **kwargs)
        except InferenceServerException as exc:
            status = exc.status() or ""
            if status in _CONNECTION_FAULTS:
                self._forget(client)
            if status == "StatusCode.DEADLINE_EXCEEDED":
                raise EngineUnavailable(f"the Triton server at {self.url} did not answer within {self.timeout_s:g} s, "
                                        f"so {self.model!r} could not {what}") from None  # fmt: skip
            if status == "StatusCode.UNAVAILABLE":
                raise EngineUnavailable(f"the Triton server at {self.url} is unreachable, so {self.model!r} could not "
                                        f"{what}: {exc.message()}") from None  # fmt: skip
            code = status.removeprefix("StatusCode.") or "error"
            raise EngineUnavailable(f"the Triton server at {self.url} could not {what} {self.model!r}: {code} "
                                    f"{exc.message()}") from None  # fmt: skip

    def _describe(self) -> None:
        """Ask the server for the model (ready? which tensors? batched?) and match it to the bundle's entry."""
        if not self._call("load", "is_server_live"):
            raise EngineUnavailable(f"the Triton server at {self.url} is not live")
        if not self._call("load", "is_model_ready", self.model):
            raise EngineUnavailable(f"the Triton server at {self.url} has no model {self.model!r} ready (load it, "
                                    "or serve the bundle: `eai-avatar triton serve --bundle DIR`)")  # fmt: skip
        metadata = self._call("load", "get_model_metadata", self.model)
        config = self._call("load", "get_model_config", self.model).config
        self.max_batch_size = int(config.max_batch_size)
        served_inputs, served_outputs = list(metadata.inputs), list(metadata.outputs)
        if self._expected is None:
            self._inputs = [_Wire(_served_spec(t), t.datatype) for t in served_inputs]
            self._outputs = [_Wire(_served_spec(t), t.datatype) for t in served_outputs]
            return
        problems: list[str] = []
        self._inputs = _match("input", self._expected.inputs, served_inputs, problems, every_served=True)
        self._outputs = _match("output", self._expected.outputs, served_outputs, problems, every_served=False)
        if problems:
            source = f" ({self.path.name})" if self.path is not None else ""
            raise TritonModelMismatch(f"the Triton server at {self.url} serves {self.model!r} with other tensors than "
                                      f"the bundle's model{source}: " + "; ".join(problems))  # fmt: skip

    # ------------------------------------------------------------------ Engine

    def input_spec(self) -> list[TensorSpec]:
        return [wire.spec for wire in self._inputs]

    def output_spec(self) -> list[TensorSpec]:
        return [wire.spec for wire in self._outputs]

    def metadata(self) -> dict[str, str]:
        """The bundle's record of the model's metadata (Triton does not serve an ONNX file's metadata_props)."""
        return dict(getattr(self._expected, "metadata", None) or {})

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_inputs(inputs)
        items = len(next(iter(inputs.values()))) if inputs else 0
        if self.max_batch_size <= 0 or items <= self.max_batch_size:
            return self._infer(inputs)
        # More items than the server batches at once: in slices it accepts, joined again.
        parts = [self._infer({name: value[start : start + self.max_batch_size] for name, value in inputs.items()})
                 for start in range(0, items, self.max_batch_size)]  # fmt: skip
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from tritonclient.grpc import InferInput, InferRequestedOutput

        sent = []
        for wire in self._inputs:
            value = np.ascontiguousarray(inputs[wire.spec.name])
            tensor = InferInput(wire.spec.name, wire.shape(value), wire.datatype)
            tensor.set_data_from_numpy(value.reshape(wire.shape(value)))
            sent.append(tensor)
        requested = [InferRequestedOutput(wire.spec.name) for wire in self._outputs]
        result = self._call("run", "infer", self.model, sent, outputs=requested)
        outputs = {}
        for wire in self._outputs:
            value = result.as_numpy(wire.spec.name)
            if value is None:
                raise EngineUnavailable(f"the Triton server at {self.url} answered {self.model!r} without its output "
                                        f"{wire.spec.name!r}")  # fmt: skip
            outputs[wire.spec.name] = value.reshape(value.shape[:-1]) if wire.item_axis else value
        return outputs


def _served_spec(tensor) -> TensorSpec:
    shape = tuple(int(d) if d >= 0 else f"dim{axis}" for axis, d in enumerate(tensor.shape))
    return TensorSpec(tensor.name, shape, _NUMPY_TYPES.get(tensor.datatype, tensor.datatype))


def _match(kind: str, expected, served, problems: list[str], every_served: bool) -> list[_Wire]:
    """The wires of the bundle's tensors on the served ones; what does not fit is added to `problems`.

    `every_served`: the server's tensors must all be the bundle's (an input the bundle does not know could not be
    sent); an output the runtime does not ask for is left alone."""
    by_name = {tensor.name: tensor for tensor in served}
    wires = []
    for spec in expected:
        tensor = by_name.get(spec.name)
        datatype = _TRITON_TYPES.get(spec.dtype, spec.dtype)
        if tensor is None:
            problems.append(f"no {kind} {spec.name!r}")
            continue
        if tensor.datatype != datatype:
            problems.append(f"{kind} {spec.name!r} is {tensor.datatype}, the bundle's is {datatype}")
        dims = [int(d) for d in tensor.shape]
        item_axis = len(dims) == len(spec.shape) + 1 == 2 and dims[-1] == 1
        if not _fits(spec.shape, dims[:-1] if item_axis else dims):
            problems.append(f"{kind} {spec.name!r} has shape {dims} on the server, the bundle's is {list(spec.shape)}")
        wires.append(_Wire(spec, datatype, item_axis))
    if every_served:
        known = {spec.name for spec in expected}
        problems += [f"an {kind} {name!r} the bundle's model does not have" for name in by_name if name not in known]
    return wires


def _fits(bundle_shape: tuple[int | str, ...], served: list[int]) -> bool:
    """Whether the server's axes (-1: any size) take what the bundle's do: a fixed axis of the bundle may be fixed
    to the same size or free on the server; a named (dynamic) axis must be free there."""
    if len(bundle_shape) != len(served):
        return False
    return all(got == -1 or (isinstance(want, int) and got == want) for want, got in zip(bundle_shape, served,
                                                                                          strict=True))  # fmt: skip
