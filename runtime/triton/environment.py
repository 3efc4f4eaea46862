"""The PyTriton environment and the Triton server process it runs.

NVIDIA PyTriton ships a real `tritonserver` (with the Python backend only) as a wheel, which lets this machine
serve a bundle's ONNX files from Triton without a GPU or a container. It needs numpy<2 and tritonclient's
protobuf<7, where the runtime needs protobuf 7, so it gets a venv of its own, made once by `ensure_venv` (pip
from PyPI, about 450 MB) and reused while its requirements stay the same.

`TritonProcess` starts `pytriton_server.py` in that venv as a process group of its own (PyTriton starts
tritonserver and one stub process per model under it), waits for its "ready" line, and stops (SIGTERM: PyTriton
cleans up) or kills it (SIGKILL: Triton gone at once, as when a server dies) as a whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: PyTriton 0.7.0 bundles tritonserver 2.51 and Python-backend stubs for Python 3.8-3.13 (manylinux_2_35 x86_64
#: and aarch64 wheels).
PYTRITON = "nvidia-pytriton==0.7.0"
SUPPORTED_PYTHONS = ((3, 8), (3, 13))
SERVER_SCRIPT = Path(__file__).with_name("pytriton_server.py")
_MARKER = "eai-avatar-requirements.txt"


def default_venv() -> Path:
    """$EAI_AVATAR_PYTRITON_VENV, else the user's cache folder (~/.cache/eai-avatar/pytriton-venv)."""
    if os.environ.get("EAI_AVATAR_PYTRITON_VENV"):
        return Path(os.environ["EAI_AVATAR_PYTRITON_VENV"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "eai-avatar" / "pytriton-venv"


def requirements() -> list[str]:
    """What the venv holds: PyTriton and this runtime's own onnxruntime version, so the server computes what the
    runtime would in-process (the same kernels: equal results, not merely close)."""
    return [PYTRITON, f"onnxruntime=={importlib.metadata.version('onnxruntime')}", "numpy<2"]


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path | None = None, python: str = sys.executable, say=None) -> Path:
    """The venv at `venv` (default `default_venv()`) with `requirements()` installed, made if it is missing or was
    made for other requirements; returns its python. `say(text)` hears what is being done (it takes a minute)."""
    venv = Path(venv or default_venv()).absolute()
    wanted = "\n".join(requirements()) + "\n"
    marker = venv / _MARKER
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs, or two servers, make it once between them
        if marker.is_file() and marker.read_text(encoding="utf-8") == wanted and venv_python(venv).exists():
            return venv_python(venv)
        _check_python(python)
        if say is not None:
            say(f"making the PyTriton environment in {venv} (once; about 450 MB from PyPI)")
        if venv.exists():
            shutil.rmtree(venv)
        _run([python, "-m", "venv", str(venv)], "make the venv")
        _run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              *requirements()], "install PyTriton")  # fmt: skip
        marker.write_text(wanted, encoding="utf-8")  # last: a venv without it is remade
    return venv_python(venv)


def _check_python(python: str) -> None:
    found = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    version = tuple(int(part) for part in found)
    low, high = SUPPORTED_PYTHONS
    if not low <= version <= high:
        raise RuntimeError(f"PyTriton's Triton has Python-backend stubs for Python {low[0]}.{low[1]} to "
                           f"{high[0]}.{high[1]}; {python} is {version[0]}.{version[1]}")  # fmt: skip


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"could not {what} ({' '.join(command[:4])} ...):\n{output}")


class TritonProcess:
    """PyTriton's Triton serving the bundle at `bundle` on `host:grpc_port`, as a child process group.

    Args:
        python: the PyTriton venv's python (`ensure_venv()`).
        threads: onnxruntime threads per model; instances: renderer instances; max_batch: the renderer's largest
            dynamic batch; models: the bundle's models to serve (default all).
        log: where the server's output goes (default: a file in its workspace, kept when it fails to start).
    """

    def __init__(self, python: Path, bundle: Path, grpc_port: int = 8001, host: str = "127.0.0.1", threads: int = 2,
                 instances: int = 1, max_batch: int = 32, models: tuple[str, ...] = (),
                 log: Path | None = None):  # fmt: skip
        self.python, self.bundle = Path(python), Path(bundle)
        self.host, self.grpc_port = host, grpc_port
        self.options = ["--threads", str(threads), "--instances", str(instances), "--max-batch", str(max_batch)]
        if models:
            self.options += ["--models", ",".join(models)]
        self.log = log
        self.process: subprocess.Popen | None = None
        self._folder: Path | None = None

    @property
    def url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def start(self, timeout_s: float = 180.0) -> TritonProcess:
        """Start the server and wait until it says its models are ready; RuntimeError (with its log) if it does
        not within `timeout_s`."""
        # A short path: PyTriton keeps Unix sockets in its workspace, and their paths may not exceed 107 bytes.
        self._folder = Path(tempfile.mkdtemp(prefix="eai-triton-"))
        log = self.log or self._folder / "server.log"
        command = [str(self.python), str(SERVER_SCRIPT), "--bundle", str(self.bundle), "--host", self.host,
                   "--grpc-port", str(self.grpc_port), "--workspace", str(self._folder / "ws"),
                   *self.options]  # fmt: skip
        # Its output goes to a file, never a pipe: a pipe no one reads would stall the server once it filled.
        start = log.stat().st_size if log.exists() else 0  # a log kept across restarts: only this run's lines
        with open(log, "ab") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            with open(log, "rb") as log_file:
                log_file.seek(start)
                if any(line.startswith(b"ready grpc=") for line in log_file):
                    return self
            time.sleep(0.2)
        exit_code = self.process.poll()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        self.kill(keep_log=True)
        why = f"exited with code {exit_code}" if exit_code is not None else f"was not ready within {timeout_s:g} s"
        raise RuntimeError(f"the Triton server for {self.bundle} on {self.url} {why} (its log: {log}):\n{tail}")

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (PyTriton stops tritonserver and frees its shared memory), SIGKILL if it has not ended in time."""
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()
        self._cleanup()

    def kill(self, keep_log: bool = False) -> None:
        """SIGKILL to the server and everything under it: Triton gone at once, as when its machine dies."""
        if self.process is None:
            return
        regions = self._shared_memory()
        self._signal(signal.SIGKILL)
        self.process.wait()
        for region in regions:  # no process of the group is left to unlink them
            region.unlink(missing_ok=True)
        self._cleanup(keep_log)

    def _shared_memory(self) -> set[Path]:
        """The /dev/shm regions the server's processes have mapped (PyTriton's tensor store and its Python
        backend's), found in /proc: only these are removed after a kill, never another program's."""
        regions = set()
        for process in Path("/proc").glob("[0-9]*"):
            try:
                fields = (process / "stat").read_text().rpartition(")")[2].split()
                if int(fields[2]) != self.process.pid:  # the process group start_new_session made
                    continue
                maps = (process / "maps").read_text()
            except (OSError, ValueError, IndexError):
                continue  # a process that ended meanwhile, or one not ours to read
            regions |= {Path(line.split(maxsplit=5)[5].removesuffix(" (deleted)")) for line in maps.splitlines()
                        if " /dev/shm/" in line}  # fmt: skip
        return regions

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # the group start_new_session made: this server and its children

    def _cleanup(self, keep_log: bool = False) -> None:
        """The workspace (a killed PyTriton leaves its sockets and model store there)."""
        if self._folder is not None:
            shutil.rmtree(self._folder / "ws", ignore_errors=True)
            if not keep_log and self.log is None:
                shutil.rmtree(self._folder, ignore_errors=True)
        self.process, self._folder = None, None

    def __enter__(self) -> TritonProcess:
        return self.start() if self.process is None else self

    def __exit__(self, *_exc) -> None:
        self.stop()
