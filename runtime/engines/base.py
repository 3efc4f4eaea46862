"""The engine interface every backend implements, and the registry that picks one by name."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    """A named input or output: its shape (an int per fixed axis, a name per dynamic one) and numpy dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str

    def check(self, value: np.ndarray) -> None:
        """ValueError naming the tensor when `value` does not fit this spec."""
        if value.dtype != np.dtype(self.dtype):
            raise ValueError(f"input {self.name!r} must be {self.dtype}, got {value.dtype}")
        if value.ndim != len(self.shape):
            raise ValueError(
                f"input {self.name!r} must have {len(self.shape)} dimensions {self.shape}, got {value.shape}"
            )
        for axis, (want, got) in enumerate(zip(self.shape, value.shape, strict=True)):
            if isinstance(want, int) and want != got:
                raise ValueError(f"input {self.name!r} axis {axis} must be {want}, got {got} (shape {value.shape})")


class Engine(ABC):
    """A loaded model. `run` takes and returns numpy arrays by name."""

    name: str

    @abstractmethod
    def input_spec(self) -> list[TensorSpec]: ...

    @abstractmethod
    def output_spec(self) -> list[TensorSpec]: ...

    @abstractmethod
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def metadata(self) -> dict[str, str]:
        """Key-value facts the exporter stored with the model (e.g. a receptive field); empty if none."""
        return {}

    def check_inputs(self, inputs: dict[str, np.ndarray]) -> None:
        specs = {spec.name: spec for spec in self.input_spec()}
        missing, unknown = set(specs) - set(inputs), set(inputs) - set(specs)
        if missing or unknown:
            raise ValueError(f"{self.name}: missing inputs {sorted(missing)}, unknown inputs {sorted(unknown)}")
        for name, value in inputs.items():
            specs[name].check(np.asarray(value))


# backend name -> "module:Class"; a backend's module is imported only when it is asked for.
BACKENDS: dict[str, str] = {
    "onnxruntime": "eai_avatar.runtime.engines.onnx:OnnxEngine",
    "onnxruntime-cuda": "eai_avatar.runtime.engines.onnx:OnnxCudaEngine",
    "tensorrt": "eai_avatar.runtime.engines.tensorrt:TensorRTEngine",
    "triton": "eai_avatar.runtime.engines.triton:TritonEngine",
}


def create_engine(path: str | Path, backend: str = "onnxruntime", **options) -> Engine:
    """Load the model at `path` with the named backend."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown engine backend {backend!r}; available: {', '.join(BACKENDS)}")
    module_name, class_name = BACKENDS[backend].split(":")
    return getattr(importlib.import_module(module_name), class_name)(path, **options)
