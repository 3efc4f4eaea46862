"""samples/cpp builds with CMake against Debian's gRPC and streams a turn from a real server."""

import json
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "cpp"
TOOLS = ("cmake", "g++", "protoc", "grpc_cpp_plugin")


def _missing() -> str | None:
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"{', '.join(absent)} not installed (apt-get install cmake g++ libgrpc++-dev protobuf-compiler-grpc)"
    configs = [*Path("/usr/lib").glob("*/cmake/grpc/gRPCConfig.cmake"), *Path("/usr/local/lib").glob("cmake/grpc/*")]
    if not configs:
        return "gRPC's CMake package is not installed (apt-get install libgrpc++-dev)"
    return None


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_the_cpp_client_streams_a_turn(tmp_path):
    pytest.importorskip("espeakng_loader", reason="the server's offline voice is espeak-ng")
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(SAMPLE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    command = [sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--db", str(tmp_path / "s.db")]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = None
        for line in server.stdout:
            match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        assert port, "the server did not start"
        out = tmp_path / "out"
        result = subprocess.run([str(build / "avatar_client"), f"127.0.0.1:{port}", str(out), "bo", "Hello from C++!"],
                                check=True, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    frames = summary["frames"]
    assert set(frames) == {"ada", "bo"} and frames["ada"] == frames["bo"] > 10
    assert len(list(out.glob("bo_*.jpg"))) == frames["bo"]
    assert (out / "bo_0.jpg").read_bytes()[:2] == b"\xff\xd8"
    with wave.open(str(out / "voice.wav")) as voice:
        assert voice.getframerate() == 16000 and voice.getnframes() == summary["audio_samples"] > 0
        assert abs(voice.getnframes() / 16000 - frames["bo"] / 25) < 0.05
