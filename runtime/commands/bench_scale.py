"""`eai-avatar bench scale`: how many live sessions a machine holds, and what each costs, for several ways of
serving the models, side by side in one run (the machines are noisy, so the ratios are what to read).

Variants (`--variants`, in this order by default):

- in-process: one `eai-avatar serve`, every model on onnxruntime in its process (the default);
- batched:    the same with the renderer batcher on (every session's frames in shared batches, `[batching]`);
- triton:     the renderer on `eai-avatar triton serve` (PyTriton's tritonserver on this machine), the rest in process;
- replicas:   two `eai-avatar serve` processes on one PostgreSQL store (a schema of the bench's own, dropped after),
              sessions split between them.

For each variant and each session count (`--sessions`, until one does not hold, unless `--keep-going`):

- live: N two-avatar sessions at once at real-time pacing, JPEG 256x256, each advancing its scripted dialogue for
  `--seconds` of media. A session falls behind when a chunk takes longer to make than to show: the frames of a turn
  then arrive over more time than they cover. `behind_s` adds that up over the session's turns (a turn's last frame
  later than real time after its first); N sessions are held when every one is under `--lag-s` behind. Per session:
  `rtf` (arrival time over media time within turns: 1.0 at real time), first-frame latency (from the Advance to the
  first frame), and the pause between turns (voice and planning of the next line).
- throughput: N sessions as fast as possible, two turns each: media seconds made per wall second, all together.
- memory: the resident set of the server processes (and of Triton's, apart) after the largest live run.

The client reads the wire messages without decoding images, so its own work stays small beside the servers'.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from eai_avatar.runtime.commands.benchmarking import machine, report

VARIANTS = ("in-process", "batched", "triton", "replicas")
PAIRS = (("ada", "bo"), ("cyra", "dev"))
SESSION_KEY = "eai-avatar-session"
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/test"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, help="engine bundle (default: the one that ships)")
    parser.add_argument("--threads", type=int, default=2, help="model threads of each server (default 2)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--sessions", default="1,2,3,4,5", help="session counts to try, in order (default 1..5)")
    parser.add_argument("--seconds", type=float, default=40.0, help="media per live session (default 40 s)")
    parser.add_argument("--lag-s", type=float, default=1.0, help="most a held session may fall behind (default 1 s)")
    parser.add_argument("--keep-going", action="store_true", help="try every session count, held or not")
    parser.add_argument("--no-throughput", action="store_true", help="skip the as-fast-as-possible runs")
    parser.add_argument("--postgres", default=os.environ.get("EAI_AVATAR_TEST_POSTGRES", DEFAULT_POSTGRES),
                        help="the replicas' PostgreSQL (the bench makes a schema there and drops it)")  # fmt: skip
    parser.add_argument("--pytriton-venv", type=Path, help="PyTriton's venv (default: `triton serve`'s)")
    parser.add_argument("--json", action="store_true")


# ---------------------------------------------------------------------- servers


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def _group_pids(leader: int) -> list[int]:
    """Every process of the process group `leader` started (Triton's server and its Python backends)."""
    pids = []
    for process in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int((process / "stat").read_text().rpartition(")")[2].split()[2]) == leader:
                pids.append(int(process.name))
    return pids


@dataclass
class _Server:
    """One `eai-avatar serve` child process and its port."""

    process: subprocess.Popen
    port: int

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def _start_server(flags: list[str], env: dict[str, str]) -> _Server:
    process = subprocess.Popen([sys.executable, "-m", "eai_avatar", "serve", "--port", "0", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **env})  # fmt: skip
    lines = []
    for line in process.stdout:
        lines.append(line)
        if match := re.search(r"serving on [^:]+:(\d+)", line):
            # The rest of its output is drained by a thread, so a chatty server never blocks on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return _Server(process, int(match.group(1)))
    raise RuntimeError(f"the server did not start (exit {process.wait()}):\n{''.join(lines[-20:])}")


def _stop_server(server: _Server) -> int:
    """SIGTERM, as an operator stops it; its exit code (0: it stopped in order), SIGKILL after 30 s."""
    server.process.terminate()
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        return server.process.wait()


@contextlib.contextmanager
def _variant_servers(variant: str, args: argparse.Namespace, folder: Path):
    """The servers of one variant (the replicas' schema and Triton's server with them), stopped afterwards."""
    flags = ["--threads", str(args.threads)] + (["--bundle", str(args.bundle)] if args.bundle else [])
    env = {"EAI_AVATAR_BATCH_RENDERER": "1" if variant == "batched" else "0"}
    servers: list[_Server] = []
    triton = None
    schema = None
    stopped: list[int] = []  # the servers' exit codes, filled as they stop
    try:
        if variant == "triton":
            from eai_avatar.runtime.bundle import Bundle, default_bundle_path
            from eai_avatar.runtime.triton.environment import TritonProcess, ensure_venv

            port = _free_port()
            bundle = Bundle(args.bundle or default_bundle_path()).root
            triton = TritonProcess(ensure_venv(args.pytriton_venv), bundle, grpc_port=port, threads=args.threads,
                                   models=("renderer",)).start()  # fmt: skip
            flags += ["--engine", "renderer=triton", "--triton-url", triton.url]
        if variant == "replicas":
            schema = f"bench_scale_{uuid.uuid4().hex[:12]}"
            env["EAI_AVATAR_DB_SCHEMA"] = schema
            for name in ("a", "b"):
                servers.append(_start_server([*flags, "--db", args.postgres, "--replica-id", f"bench-{name}"], env))
        else:
            servers.append(_start_server([*flags, "--db", str(folder / f"{variant}.db")], env))
        yield servers, triton, stopped
    finally:
        stopped += [_stop_server(server) for server in servers]
        if triton is not None:
            triton.stop()
        if schema is not None:
            _drop_schema(args.postgres, schema)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _drop_schema(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# ---------------------------------------------------------------------- one session's stream


@dataclass
class _Turn:
    first_at: float = 0.0
    first_ms: int = -1
    last_at: float = 0.0
    last_ms: int = -1

    def frame(self, at: float, presentation_ms: int) -> None:
        if self.first_ms < 0:
            self.first_at, self.first_ms = at, presentation_ms
        self.last_at, self.last_ms = at, presentation_ms

    @property
    def media_s(self) -> float:
        return (self.last_ms - self.first_ms) / 1000 if self.first_ms >= 0 else 0.0

    @property
    def spent_s(self) -> float:
        return self.last_at - self.first_at if self.first_ms >= 0 else 0.0


@dataclass
class _SessionRun:
    first_frame_s: float = float("nan")
    turns: list[_Turn] = field(default_factory=list)
    media_s: float = 0.0  # from the turns' frame counts (25 fps)
    errors: list[str] = field(default_factory=list)

    @property
    def behind_s(self) -> float:
        return sum(max(0.0, turn.spent_s - turn.media_s) for turn in self.turns)

    @property
    def rtf(self) -> float:
        media = sum(turn.media_s for turn in self.turns)
        return sum(turn.spent_s for turn in self.turns) / media if media else float("nan")

    def pauses_s(self) -> list[float]:
        """From each turn's last frame to the next turn's first, beyond one frame's 40 ms."""
        shown = [turn for turn in self.turns if turn.first_ms >= 0]
        return [max(0.0, b.first_at - a.last_at - (b.first_ms - a.last_ms) / 1000)
                for a, b in zip(shown, shown[1:], strict=False)]  # fmt: skip


async def _stream(channel, session_id: str, seconds: float, turns: int | None = None) -> _SessionRun:
    """Advance the session's dialogue until `seconds` of media (or `turns` turns) have come; timings of arrival."""
    from eai_avatar.v1 import common_pb2, converse_pb2, service_pb2_grpc

    stub = service_pb2_grpc.AvatarServiceStub(channel)
    done = asyncio.Event()

    async def requests():
        yield converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session_id))
        yield converse_pb2.ClientEvent(advance=converse_pb2.Advance(turns=turns or 100))
        await done.wait()

    run = _SessionRun()
    call = stub.Converse(requests(), metadata=((SESSION_KEY, session_id),))
    sent = time.perf_counter()
    turn = None
    try:
        async for message in call:
            kind = message.WhichOneof("event")
            now = time.perf_counter()
            if kind == "frame":
                if run.first_frame_s != run.first_frame_s:  # nan: the first frame
                    run.first_frame_s = now - sent
                if turn is not None:
                    turn.frame(now, message.frame.presentation_ms)
            elif kind == "turn_started":
                turn = _Turn()
                run.turns.append(turn)
            elif kind == "turn_ended":
                run.media_s += message.turn_ended.frames / 25
                if run.media_s >= seconds or (turns is not None and len(run.turns) >= turns):
                    break
            elif kind == "status" and message.status.code in (common_pb2.Status.CODE_WARNING,
                                                              common_pb2.Status.CODE_ERROR):  # fmt: skip
                run.errors.append(message.status.message)
            elif kind == "end":
                run.errors.append(f"the stream ended: {message.end.reason}")
                break
    finally:
        done.set()
        call.cancel()
    return run


async def _sessions(targets: list[str], count: int, real_time: bool, seed: int) -> list[tuple[str, str]]:
    """`count` new sessions, spread over the servers in turn: (target, session id)."""
    from eai_avatar.client import AsyncAvatarClient

    made = []
    for index in range(count):
        target = targets[index % len(targets)]
        async with AsyncAvatarClient(target) as client:
            output = {"image_encoding": "jpeg", "pacing": "real_time" if real_time else "as_fast_as_possible"}
            session = await client.create_session(list(PAIRS[index % 2]), output=output, seed=seed + index)
            made.append((target, session.session_id))
    return made


async def _together(sessions: list[tuple[str, str]], seconds: float, turns: int | None = None):
    import grpc

    channels = {target: grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)])
                for target, _ in sessions}  # fmt: skip
    try:
        started = time.perf_counter()
        runs = await asyncio.gather(*(_stream(channels[target], sid, seconds, turns) for target, sid in sessions))
        return runs, time.perf_counter() - started
    finally:
        for channel in channels.values():
            await channel.close()


def _median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return round(statistics.median(values), 3) if values else float("nan")


async def _measure_variant(targets: list[str], args: argparse.Namespace, counts: list[int]) -> dict:
    # Warm-up: every voice and pair loaded, one turn each, before anything is timed.
    await _together(await _sessions(targets, 2 * len(targets), False, 900), 0.0, turns=1)
    result: dict = {"live": {}, "throughput": {}}
    held = 0
    for count in counts:
        runs, _ = await _together(await _sessions(targets, count, True, 100 * count), args.seconds)
        behind = [run.behind_s for run in runs]
        errors = [error for run in runs for error in run.errors]
        ok = not errors and max(behind) <= args.lag_s and min(run.media_s for run in runs) >= args.seconds
        result["live"][count] = {
            "held": ok,
            "behind_s_max": round(max(behind), 2),
            "behind_s_median": _median(behind),
            "rtf_median": _median([run.rtf for run in runs]),
            "rtf_max": round(max(run.rtf for run in runs), 3),
            "first_frame_ms_median": round(1000 * _median([run.first_frame_s for run in runs]), 1),
            "pause_ms_median": round(1000 * _median([p for run in runs for p in run.pauses_s()]), 1),
            "media_s_min": round(min(run.media_s for run in runs), 1),
            "errors": errors[:3],
        }
        if ok:
            held = count
        if not args.no_throughput:
            fast, wall = await _together(await _sessions(targets, count, False, 500 + count), float("inf"), turns=2)
            media = sum(run.media_s for run in fast)
            result["throughput"][count] = round(media / wall, 2)
        if not ok and not args.keep_going:
            break
    result["sessions_held"] = held
    return result


def _parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--sessions must be comma-separated counts, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise ValueError(f"--sessions must be counts of at least 1, got {text!r}")
    return counts


def _at(entries: dict, count: int):
    """An entry keyed by session count (an int in memory, a string once it has been through JSON)."""
    return entries.get(count, entries.get(str(count)))


def _live_cell(variant: dict, count: int) -> str:
    entry = _at(variant["live"], count)
    if entry is None:
        return ""
    return f"{entry['behind_s_max']} s, RTF {entry['rtf_median']}, {entry['first_frame_ms_median']:g} ms"


def _throughput_cell(variant: dict, base: dict, count: int) -> str:
    value, base_value = _at(variant["throughput"], count), _at(base["throughput"], count)
    if value is None:
        return ""
    return f"{value} ({value / base_value:.2f}x)" if base_value else f"{value}"


def table(result: dict) -> str:
    """The variants side by side: sessions held; per session count the worst session's lag, the median RTF and
    first frame; throughput as fast as possible, with its ratio to the first variant; memory."""
    variants = [name for name in VARIANTS if name in result["variants"]]
    chosen = [result["variants"][name] for name in variants]
    counts = sorted({int(count) for variant in chosen for count in variant["live"]})
    rows = [(f"live sessions held (under {result['lag_s']:g} s behind in {result['seconds']:g} s)",
             [f"**{variant['sessions_held']}**" for variant in chosen])]  # fmt: skip
    rows += [(f"{count} live: worst behind, median RTF, first frame", [_live_cell(v, count) for v in chosen])
             for count in counts]  # fmt: skip
    rows += [(f"{count} as fast as possible: media s per wall s", [_throughput_cell(v, chosen[0], count)
                                                                    for v in chosen]) for count in counts]  # fmt: skip
    rows.append(("server memory after the largest run, MB",
                 [f"{v['server_rss_mb']}" + (f" (+ Triton {v['triton_rss_mb']})" if v.get("triton_rss_mb") else "")
                  for v in chosen]))  # fmt: skip
    lines = ["| | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        raise ValueError(f"unknown variant(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(VARIANTS)}")
    counts = _parse_counts(args.sessions)
    if args.seconds <= 0 or args.lag_s <= 0 or args.threads < 1:
        raise ValueError("--seconds, --lag-s and --threads must be positive")
    result = {"benchmark": "scale", "machine": machine(), "threads": args.threads, "seconds": args.seconds,
              "lag_s": args.lag_s, "variants": {}}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for variant in VARIANTS:
            if variant not in variants:
                continue
            with _variant_servers(variant, args, Path(folder)) as (servers, triton, stopped):
                measured = asyncio.run(_measure_variant([s.target for s in servers], args, counts))
                measured["server_rss_mb"] = _rss_mb([server.process.pid for server in servers])
                if triton is not None:
                    measured["triton_rss_mb"] = _rss_mb(_group_pids(triton.process.pid))
                result["variants"][variant] = measured
            measured["server_exit_codes"] = stopped
    text = f"bench scale ({result['machine']}, {args.threads} threads per server):\n\n" + table(result)
    return report(result, args.json, text)
