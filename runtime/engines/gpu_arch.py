"""Which NVIDIA GPU architecture this machine has (TensorRT engines run only on the one they were built for)."""

from __future__ import annotations

import shutil
import subprocess


def current_sm_arch() -> str | None:
    """'sm_90' for an H100, for example; None where there is no NVIDIA GPU (or no driver to ask)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        result = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=20, check=True)  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        return None
    first = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
    major, _, minor = first.partition(".")
    return f"sm_{major}{minor}" if major.isdigit() and minor.isdigit() else None
