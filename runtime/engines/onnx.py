"""The onnxruntime backend (CPU by default; CUDA where onnxruntime-gpu is installed and asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eai_avatar.runtime.engines.base import Engine, TensorSpec

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


class OnnxEngine(Engine):
    """Args:
    path: an .onnx file.
    threads: intra-op threads (None: onnxruntime's choice).
    providers: onnxruntime execution providers, default CPU.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None, providers: list[str] | None = None):
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model not found: {path}")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        # No busy-waiting between runs: the runtime alternates several models, and every session's idle pool
        # spinning on the same cores more than doubled CRHMG's latency on 2 cores (25 ms -> 11 ms without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), sess_options=options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types for a corrupt file
            raise ValueError(f"{path} is not a loadable ONNX model: {exc}") from exc
        self.path = path

    @staticmethod
    def _spec(node) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) else str(d) for d in node.shape)
        return TensorSpec(node.name, shape, _ORT_TYPES.get(node.type, node.type))

    def input_spec(self) -> list[TensorSpec]:
        return [self._spec(node) for node in self.session.get_inputs()]

    def output_spec(self) -> list[TensorSpec]:
        return [self._spec(node) for node in self.session.get_outputs()]

    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_inputs(inputs)
        names = [node.name for node in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, inputs), strict=True))


class OnnxCudaEngine(OnnxEngine):
    """onnxruntime on an NVIDIA GPU (CUDA provider, from `pip install 'eai-avatar[gpu]'`), refused with the reason
    when this onnxruntime has no CUDA provider."""

    name = "onnxruntime-cuda"

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise RuntimeError("the onnxruntime-cuda backend needs onnxruntime-gpu with CUDA (pip install "
                               "'eai-avatar[gpu]', which replaces the CPU onnxruntime) and an NVIDIA GPU; this "
                               f"onnxruntime offers {', '.join(onnxruntime.get_available_providers())}")  # fmt: skip
        super().__init__(path, threads, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
