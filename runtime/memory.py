"""Keep a long-running server's resident memory near what it uses.

glibc's malloc serves a large block (over 128 KiB) with mmap and returns it to the system when it is freed, but it
raises that threshold to the size of every mmapped block freed (up to 32 MiB), so after the first turns the
renderer's and the models' big temporary arrays come from the heap, and freed heap stays resident. Fixing the
threshold (`mallopt(M_MMAP_THRESHOLD)`, which also turns the adjustment off) keeps big temporaries mmapped, so they
go back when freed. At 4 MiB (measured with `bench runtime` and a served session on 2 cores): 361 MB with one
session and 385 MB with four, against 442 / 550 MB left alone, at the same speed; 128 KiB saved 25 MB more but cost
a quarter of the throughput (every frame-sized array mapped and faulted in anew). Elsewhere than glibc this does
nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 4 << 20


def return_large_blocks_to_the_system(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Serve blocks over `threshold` bytes with mmap, always; True if the allocator took the setting."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    taken = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    logger.debug("malloc mmap threshold %d bytes: %s", threshold, "set" if taken else "refused")
    return taken
