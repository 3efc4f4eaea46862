"""The TensorRT backend: a serialized engine (.plan) built by `eai-avatar export --tensorrt`, behind the same
Engine interface as onnxruntime. Plans are specific to a GPU architecture: they live in tensorrt/<sm_arch>/ and
one built for another architecture is refused with a message, not handed to TensorRT (which would fail obscurely).

Needs the `tensorrt` and `cuda-python` packages and an NVIDIA GPU (pip install 'eai-avatar[tensorrt]').
Host arrays are copied to the GPU, run, and copied back on one CUDA stream per engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.runtime.engines.base import Engine, TensorSpec
from eai_avatar.runtime.engines.gpu_arch import current_sm_arch


def plan_arch(path: Path) -> str:
    """The architecture a plan was built for: the name of its folder (tensorrt/sm_90/renderer.plan)."""
    arch = path.parent.name
    if not arch.startswith("sm_"):
        raise ValueError(f"{path} is not inside a tensorrt/<sm_arch>/ folder, so its GPU architecture is unknown")
    return arch


def check_arch(path: Path, current: str | None) -> None:
    built_for = plan_arch(path)
    if current is None:
        raise RuntimeError(f"{path.name} is a TensorRT engine and this machine has no NVIDIA GPU; use the onnxruntime "
                           "backend")  # fmt: skip
    if current != built_for:
        raise RuntimeError(f"{path} was built for {built_for} and this GPU is {current}: TensorRT engines run only on "
                           f"the architecture they were built for; rebuild with `eai-avatar export --tensorrt` here "
                           "or use the onnxruntime backend")  # fmt: skip


def _check(result):
    """cuda-python calls return (error, value...); raise on an error."""
    error, *values = result
    if int(error) != 0:
        raise RuntimeError(f"CUDA error {error}")
    return values[0] if len(values) == 1 else values


class TensorRTEngine(Engine):
    name = "tensorrt"

    def __init__(self, path: str | Path, **_options):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"TensorRT engine not found: {path}")
        check_arch(path, current_sm_arch())
        try:
            import tensorrt
            from cuda.bindings import runtime as cudart
        except ImportError as exc:
            raise ImportError("the TensorRT backend needs tensorrt and cuda-python: pip install "
                              "'eai-avatar[tensorrt]'") from exc  # fmt: skip
        self._trt, self._cudart = tensorrt, cudart
        logger = tensorrt.Logger(tensorrt.Logger.WARNING)
        self.engine = tensorrt.Runtime(logger).deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise ValueError(f"TensorRT could not load {path} (built by another TensorRT version?)")
        self.context = self.engine.create_execution_context()
        self.stream = _check(cudart.cudaStreamCreate())
        self.path = path
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = lambda n: self.engine.get_tensor_mode(n) == tensorrt.TensorIOMode.INPUT  # noqa: E731
        self._inputs = [n for n in names if is_input(n)]
        self._outputs = [n for n in names if not is_input(n)]

    def _spec(self, name: str) -> TensorSpec:
        shape = tuple(d if d >= 0 else f"dim{i}" for i, d in enumerate(self.engine.get_tensor_shape(name)))
        dtype = np.dtype(self._trt.nptype(self.engine.get_tensor_dtype(name))).name
        return TensorSpec(name, shape, dtype)

    def input_spec(self) -> list[TensorSpec]:
        return [self._spec(n) for n in self._inputs]

    def output_spec(self) -> list[TensorSpec]:
        return [self._spec(n) for n in self._outputs]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_inputs(inputs)
        cudart = self._cudart
        to_device, to_host = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        buffers = []
        try:
            for name in self._inputs:
                array = np.ascontiguousarray(inputs[name])
                self.context.set_input_shape(name, array.shape)
                pointer = _check(cudart.cudaMallocAsync(array.nbytes, self.stream))
                buffers.append(pointer)
                _check(cudart.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes, to_device, self.stream))
                self.context.set_tensor_address(name, pointer)
            results = {}
            for name in self._outputs:
                spec = self._spec(name)
                results[name] = np.empty(tuple(self.context.get_tensor_shape(name)), spec.dtype)
                pointer = _check(cudart.cudaMallocAsync(results[name].nbytes, self.stream))
                buffers.append(pointer)
                self.context.set_tensor_address(name, pointer)
            if not self.context.execute_async_v3(self.stream):
                raise RuntimeError(f"TensorRT failed to run {self.path.name}")
            for name, pointer in zip(self._outputs, buffers[len(self._inputs) :], strict=True):
                array = results[name]
                _check(cudart.cudaMemcpyAsync(array.ctypes.data, pointer, array.nbytes, to_host, self.stream))
            _check(cudart.cudaStreamSynchronize(self.stream))
        finally:
            for pointer in buffers:
                cudart.cudaFreeAsync(pointer, self.stream)
        return results
