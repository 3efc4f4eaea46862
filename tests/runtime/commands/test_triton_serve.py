"""`eai-avatar triton serve`: the user's way to start Triton for a bundle; SIGTERM stops it cleanly."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from eai_avatar.cli import main
from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from tests.conftest import free_port


@pytest.mark.triton
def test_triton_serve_serves_the_bundle_until_sigterm(pytriton_python, tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "eai_avatar", "triton", "serve", "--venv", str(pytriton_python.parents[1]),
               "--port", str(port), "--models", "renderer", "--threads", "1"]  # fmt: skip
    log = tmp_path / "server.log"
    with open(log, "wb") as output:  # Triton's own log lines share stdout with the ready line
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        ready = _ready_line(server, log, timeout_s=120)
        assert ready == f"ready grpc=127.0.0.1:{port} models=renderer", log.read_text()
        bundle = Bundle(default_bundle_path())
        engine = bundle.engine("renderer", "triton", url=f"127.0.0.1:{port}")
        frames = engine.run({"control": np.zeros((2, 4, 256, 256), np.float32), "identity": np.array([0, 1])})
        assert frames["rgba"].shape == (2, 4, 256, 256)
        server.send_signal(signal.SIGTERM)  # the command became the server (exec): the signal reaches it
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_triton_serve_refuses_a_model_the_bundle_does_not_have(capsys):
    assert main(["triton", "serve", "--models", "renderer,no_such_model"]) == 2
    assert "the bundle has no model no_such_model" in capsys.readouterr().err


def _ready_line(process: subprocess.Popen, log, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        ready = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("ready ")]
        if ready:
            return ready[0]
        time.sleep(0.2)
    return ""
