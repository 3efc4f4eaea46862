"""The allocator setting that keeps a server's memory near what it uses (runtime/memory.py)."""

import platform

import pytest

from eai_avatar.runtime.memory import return_large_blocks_to_the_system


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_the_threshold_is_taken_by_glibc():
    assert return_large_blocks_to_the_system() is True
