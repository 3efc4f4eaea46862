"""What every `eai-avatar bench` command shares: timing loops, the machine's description, the report."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"


def time_calls(call: Callable[[], object], repeats: int, warmup: int = 1) -> dict:
    """Median and p95 milliseconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return {"ms_median": round(float(np.median(times)), 2), "ms_p95": round(float(np.percentile(times, 95)), 2)}


def report(result: dict, as_json: bool, text: str) -> int:
    """One JSON line (`--json`) or the human-readable `text`."""
    sys.stdout.write(json.dumps(result) + "\n" if as_json else text.rstrip("\n") + "\n")
    return 0
