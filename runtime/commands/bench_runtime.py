"""`eai-avatar bench runtime`: the server end to end over loopback gRPC, on a bundle (default: the shipped one).

- first frame: from sending a scripted line to receiving its first frame (emotion, tree, TTS, CRHMG, Audio2Exp,
  face rig, renderer, JPEG), median over turns after a warm-up turn;
- real-time factor: seconds spent per second of two-avatar media at 256x256, both avatars rendered, JPEG;
- sessions at real time: concurrent sessions whose total media rate still keeps up with real time;
- server memory: the resident set of a real `eai-avatar serve` process (a child, so the client's memory is not
  counted) with one session after two turns, then with sixteen, each after a turn: the cost of a further session.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from eai_avatar.runtime.commands.benchmarking import machine, report

LINES = ("Did you bring the camera back?", "I did, it is in my bag, thanks again.",
         "You dropped it, didn't you? Tell me the truth!", "Only once, and it still works, I promise.")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from eai_avatar.runtime.commands.serve import add_config_arguments

    add_config_arguments(parser)
    parser.add_argument("--turns", type=int, default=5, help="timed turns for first-frame latency")
    parser.add_argument("--max-sessions", type=int, default=4, help="most concurrent sessions to try")
    parser.add_argument("--json", action="store_true")


def _rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def _served_memory(args: argparse.Namespace, sessions: int = 16) -> dict:
    """Resident memory of a served process: with one session, and with `sessions`."""
    import os
    import re
    import subprocess
    import sys
    import tempfile

    from eai_avatar.client import AsyncAvatarClient

    flags = [f"--engine={value}" for value in args.engine or ()]
    flags += ["--threads", str(args.threads)] + (["--bundle", str(args.bundle)] if args.bundle else [])
    flags += ["--config", str(args.config)] if args.config else []
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen([sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--db",
                                   os.path.join(folder, "bench.db"), *flags], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            port = None
            for line in server.stdout:
                if match := re.search(r"serving on [^:]+:(\d+)", line):
                    port = int(match.group(1))
                    break
            if port is None:
                raise RuntimeError(f"the server did not start (exit {server.wait()})")
            client = AsyncAvatarClient(f"127.0.0.1:{port}")
            output = {"pacing": "as_fast_as_possible", "image_encoding": "jpeg"}
            first = await client.create_session(["ada", "bo"], output=output, seed=1)
            for index in range(2):
                await _turn(client, first.session_id, ("ada", "bo")[index], LINES[index])
            result = {"server_rss_mb_1_session": _rss_mb(server.pid)}
            for index in range(sessions - 1):
                session = await client.create_session(["cyra", "dev"], output=output, seed=20 + index)
                await _turn(client, session.session_id, "cyra", LINES[index % len(LINES)])
            result[f"server_rss_mb_{sessions}_sessions"] = rss = _rss_mb(server.pid)
            result["server_rss_mb_per_further_session"] = round((rss - result["server_rss_mb_1_session"]) /
                                                                (sessions - 1), 1)  # fmt: skip
            await client.close()
            return result
        finally:
            server.terminate()
            server.wait(timeout=30)


async def _turn(client, session_id: str, speaker: str, text: str) -> tuple[float, float, int]:
    """(seconds to the first frame, seconds to the turn's end, frames per avatar)."""
    async with client.converse(session_id) as conversation:
        started = time.perf_counter()
        await conversation.scripted_line(speaker, text)
        first = None
        async for event in conversation:
            kind = type(event).__name__
            if kind == "Frame" and first is None:
                first = time.perf_counter() - started
            if kind == "TurnEnded":
                return first or float("nan"), time.perf_counter() - started, event.frames
    raise RuntimeError("the stream ended before the turn did")


async def _bench(args: argparse.Namespace) -> dict:
    import numpy as np

    from eai_avatar.client import AsyncAvatarClient
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.commands.serve import load_config
    from eai_avatar.runtime.memory import return_large_blocks_to_the_system
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.sessions import SessionManager
    from eai_avatar.runtime.store import SqliteStore

    return_large_blocks_to_the_system()  # as `serve` does
    config = load_config(args)
    args.threads = config.threads
    models = Models(Bundle(config.bundle or default_bundle_path()), config)
    manager = SessionManager(models, SqliteStore(":memory:"), config)
    server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager, workers=config.threads))
    await server.start()
    client = AsyncAvatarClient(f"127.0.0.1:{port}")
    output = {"pacing": "as_fast_as_possible", "image_encoding": "jpeg"}
    try:
        session = await client.create_session(["ada", "bo"], output=output, seed=1)
        await _turn(client, session.session_id, "ada", "Hello, this is a warm-up line.")
        firsts, spent, media = [], 0.0, 0.0
        for index in range(args.turns):
            first, total, frames = await _turn(client, session.session_id, ("bo", "ada")[index % 2],
                                               LINES[index % len(LINES)])  # fmt: skip
            firsts.append(first)
            spent, media = spent + total, media + frames / 25
        result = {"first_frame_ms_median": round(1000 * float(np.median(firsts)), 1),
                  "first_frame_ms_max": round(1000 * max(firsts), 1),
                  "real_time_factor": round(spent / media, 3)}  # fmt: skip
        at_real_time = 0
        for count in range(1, args.max_sessions + 1):
            sessions = [await client.create_session(["cyra", "dev"], output=output, seed=10 + i) for i in range(count)]
            started = time.perf_counter()
            runs = await asyncio.gather(*(_turn(client, s.session_id, "cyra", LINES[2]) for s in sessions))
            wall = time.perf_counter() - started
            media_s = sum(frames for _, _, frames in runs) / 25
            result[f"sessions_{count}_media_per_wall"] = round(media_s / wall, 2)
            if media_s / wall >= count:  # every session's media came at least as fast as real time
                at_real_time = count
        result["sessions_at_real_time"] = at_real_time
    finally:
        await client.close()
        await server.stop(None)
    return result


def run(args: argparse.Namespace) -> int:
    if args.turns < 1 or args.max_sessions < 1:
        raise ValueError("--turns and --max-sessions must be at least 1")
    measured = asyncio.run(_bench(args))
    measured.update(asyncio.run(_served_memory(args)))
    result = {"benchmark": "runtime", "machine": machine(), "threads": args.threads, **measured}
    text = (f"runtime over loopback ({result['machine']}): first frame {result['first_frame_ms_median']} ms median, "
            f"real-time factor {result['real_time_factor']} (two avatars, 256x256, JPEG), "
            f"{result['sessions_at_real_time']} session(s) at real time, "
            f"{result['server_rss_mb_1_session']} MB resident with one session, "
            f"{result['server_rss_mb_per_further_session']} MB per further session")  # fmt: skip
    return report(result, args.json, text)
