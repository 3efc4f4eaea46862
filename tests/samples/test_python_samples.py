"""samples/python: the recorder writes a conversation MP4 from a real server; the viewer runs headless."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "python"


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("espeakng_loader", reason="the server's offline voice is espeak-ng")
    command = [sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--db", str(tmp_path / "s.db")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
        if match:
            yield f"127.0.0.1:{match.group(1)}"
            break
    process.terminate()
    process.wait(timeout=30)


def test_record_and_view(server, tmp_path):
    av = pytest.importorskip("av", reason="the recorder writes MP4 with PyAV")
    out = tmp_path / "c.mp4"
    result = subprocess.run([sys.executable, str(SAMPLES / "record.py"), "--target", server, "--turns", "2", "--out",
                             str(out)], check=True, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "wrote" in result.stdout and result.stdout.count("):") == 2
    with av.open(str(out)) as container:
        assert container.streams.video[0].frames > 25 and container.streams.audio
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}  # no DISPLAY: the viewer prints
    watched = subprocess.run([sys.executable, str(SAMPLES / "viewer.py"), "--target", server, "--turns", "1"],
                             check=True, capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert "->" in watched.stdout and "shows" in watched.stdout
