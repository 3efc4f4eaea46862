"""`eai-avatar serve` as a real process: a session survives SIGKILL and a restart, tree intact."""

import asyncio
import os
import re
import signal
import subprocess
import sys

import pytest

pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.client import AsyncAvatarClient  # noqa: E402

FAST = {"pacing": "as_fast_as_possible", "include_images": False}


def start_server(db):
    process = subprocess.Popen(
        [sys.executable, "-m", "eai_avatar", "serve", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    for line in process.stdout:
        match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
        if match:
            return process, int(match.group(1))
    raise RuntimeError(f"the server did not start (exit {process.wait()})")


async def run_turns(port, session_id, turns):
    client = AsyncAvatarClient(f"127.0.0.1:{port}")
    events = []
    async with client.converse(session_id) as conversation:
        await conversation.advance(turns)
        async for event in conversation:
            events.append(event)
            if sum(type(e).__name__ == "TurnEnded" for e in events) == turns:
                break
    tree = await client.get_tree(session_id)
    await client.close()
    return conversation.header, events, tree


def test_a_session_survives_sigkill_and_restart(tmp_path):
    db = tmp_path / "conversations.db"
    process, port = start_server(db)
    try:

        async def first():
            client = AsyncAvatarClient(f"127.0.0.1:{port}")
            session = await client.create_session(["ada", "bo"], output=FAST, seed=11)
            await client.close()
            return session.session_id, await run_turns(port, session.session_id, 2)

        session_id, (_, events_before, before) = asyncio.run(first())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(before.nodes) == 4

    process, port = start_server(db)
    try:
        header, events, after = asyncio.run(run_turns(port, session_id, 1))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert header.rounds_so_far == 2
    played = sum(e.duration_ms for e in events_before if type(e).__name__ == "TurnEnded")
    assert header.clock_ms == played  # the presentation clock survives SIGKILL: it does not restart at 0
    started = [e for e in events if type(e).__name__ == "TurnStarted"]
    assert started[0].round == 3 and started[0].speaker == "ada"  # the conversation continues where it stopped
    assert started[0].start_ms == played
    assert [(n.id, n.text, n.emotion) for n in after.nodes[:4]] == [(n.id, n.text, n.emotion) for n in before.nodes]
    assert len(after.nodes) == 6
