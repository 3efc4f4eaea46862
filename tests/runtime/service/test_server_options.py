"""Server options and invariants: the frame publisher, TLS, real-time pacing, audio/video sync, closing."""

import asyncio
import json
import shutil
import subprocess
import time

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.client import AsyncAvatarClient, NotFoundError  # noqa: E402
from eai_avatar.runtime.bundle import Bundle, default_bundle_path  # noqa: E402
from eai_avatar.runtime.pipeline import Conversation, Models, OutputSpec, TurnRequest  # noqa: E402
from eai_avatar.runtime.server import AvatarServicer, create_server  # noqa: E402
from eai_avatar.runtime.sessions import SessionManager  # noqa: E402
from eai_avatar.runtime.store import SqliteStore  # noqa: E402
from eai_avatar.vocabulary import SAMPLES_PER_FRAME  # noqa: E402

FAST = {"pacing": "as_fast_as_possible", "include_images": False}


@pytest.fixture(scope="module")
def models():
    return Models(Bundle(default_bundle_path()), threads=2)


async def _one_turn(client, session_id, speaker, text):
    events = []
    async with client.converse(session_id) as conversation:
        await conversation.scripted_line(speaker, text)
        async for event in conversation:
            events.append(event)
            if type(event).__name__ == "TurnEnded":
                break
    return events


def test_audio_and_video_stay_in_sync_across_turns(models):
    """Every audio piece starts at its first frame's time and lasts exactly its frames, so there is no drift
    however long a session runs (the invariant a 10-minute session rests on)."""
    conversation = Conversation(models, ("ada", "bo"), seed=5, output=OutputSpec(include_images=False))
    samples = 0
    for speaker, text in [("ada", "One."), ("bo", "Two, and a longer line than that."), ("ada", "Three!")] * 2:
        plan = conversation.plan_turn(TurnRequest(speaker, text))
        assert plan.start_ms == samples * 1000 // 16000
        for chunk in conversation.turn_chunks(plan):
            assert len(chunk.audio) == chunk.count  # a frame's worth of audio per piece, each at its frame's time
            for piece in chunk.audio:
                assert piece.presentation_ms == samples * 1000 // 16000
                assert piece.presentation_ms in {f.presentation_ms for f in chunk.frames}
                assert len(piece.samples) == SAMPLES_PER_FRAME
                samples += len(piece.samples)
    assert samples == conversation.clock_frames * SAMPLES_PER_FRAME


def test_the_publisher_mirrors_a_session(models, tmp_path):
    zmq = pytest.importorskip("zmq")
    from eai_avatar.runtime.outputs.zmq import FramePublisher, PublisherOutput

    async def scenario():
        publisher = FramePublisher("tcp://127.0.0.1:*")
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server(
            "127.0.0.1:0", AvatarServicer(manager=manager, mirrors=[PublisherOutput(publisher)])
        )
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        session = await client.create_session(["ada", "bo"], output={"pacing": "as_fast_as_possible"}, seed=1)
        viewer = zmq.Context.instance().socket(zmq.SUB)
        viewer.connect(publisher.last_endpoint)
        viewer.subscribe(session.session_id.encode())
        await asyncio.sleep(0.3)  # a subscription takes a moment to reach the publisher
        await _one_turn(client, session.session_id, "bo", "Look who is here!")
        received = []
        while viewer.poll(500):
            received.append(viewer.recv_multipart())
        await client.close()
        await server.stop(None)
        publisher.close()
        viewer.close()
        return session.session_id, received

    session_id, received = asyncio.run(scenario())
    headers = [json.loads(header) for _, header, _ in received]
    assert all(topic.decode() == session_id for topic, _, _ in received)
    kinds = {h["kind"] for h in headers}
    assert kinds == {"frame", "audio", "event"}
    frame = next(m for m in received if json.loads(m[1])["kind"] == "frame")
    assert json.loads(frame[1])["encoding"] == "jpeg" and frame[2][:2] == b"\xff\xd8"  # a JPEG payload
    assert {h["type"] for h in headers if h["kind"] == "event"} >= {"header", "turn_started", "turn_ended"}


def test_tls(models, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)  # fmt: skip

    async def scenario():
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager),
                                           tls=(cert.read_bytes(), key.read_bytes()))  # fmt: skip
        await server.start()
        client = AsyncAvatarClient(f"localhost:{port}", tls=True, root_certificates=cert.read_bytes())
        names = (await client.list_identities()).names
        await client.close()
        await server.stop(None)
        return names

    assert "ada" in asyncio.run(scenario())


def test_real_time_pacing_and_closing(models, tmp_path):
    async def scenario():
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager))
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        session = await client.create_session(["ada", "bo"], output={"include_images": False}, seed=2)
        started = time.perf_counter()
        events = await _one_turn(client, session.session_id, "ada", "Let us take this slowly, one frame at a time.")
        elapsed = time.perf_counter() - started
        rounds = await client.close_session(session.session_id)
        with pytest.raises(NotFoundError, match="no session"):
            await _one_turn(client, session.session_id, "ada", "Hello?")
        stored = [record.session_id for record in await asyncio.to_thread(manager.store.list_sessions)]
        await client.close()
        await server.stop(None)
        return events, elapsed, rounds, stored

    events, elapsed, rounds, stored = asyncio.run(scenario())
    frames = next(e for e in events if type(e).__name__ == "TurnEnded").frames
    assert elapsed >= 0.8 * frames / 25  # events left at presentation time, not as fast as they were made
    assert rounds == 1 and stored == []  # a closed session and its tree are deleted, as service.proto says
    assert np.isfinite(elapsed)


@pytest.mark.parametrize("fps", [10, 25, 60])
def test_other_frame_rates_drop_or_repeat_frames_without_gaps(models, tmp_path, fps):
    async def scenario():
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager))
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        session = await client.create_session(["ada", "bo"], output={**FAST, "fps": fps}, seed=3)
        events = await _one_turn(client, session.session_id, "bo", "Every frame in its place.")
        await client.close()
        await server.stop(None)
        return events

    events = asyncio.run(scenario())
    frames = [e for e in events if type(e).__name__ == "Frame" and e.avatar == "ada"]
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.presentation_ms == f.index * 1000 // fps for f in frames)
    ended = next(e for e in events if type(e).__name__ == "TurnEnded")
    assert ended.frames == len(frames)
    assert abs(len(frames) / fps - ended.duration_ms / 1000) <= 1 / fps + 1e-9


def test_a_scripted_line_with_the_games_own_voice(models, tmp_path):
    async def scenario():
        manager = SessionManager(models, SqliteStore(tmp_path / "s.db"))
        server, port = await create_server("127.0.0.1:0", AvatarServicer(manager=manager))
        await server.start()
        client = AsyncAvatarClient(f"127.0.0.1:{port}")
        session = await client.create_session(["ada", "bo"], output=FAST, seed=4)
        tone = (np.sin(np.arange(22050) * 2 * np.pi * 220 / 22050) * 8000).astype(np.int16)  # 1 s at 22.05 kHz
        events = []
        async with client.converse(session.session_id) as conversation:
            await conversation.scripted_line("ada", "Ha!", audio=tone, emotion="angry", sample_rate=22050)
            async for event in conversation:
                events.append(event)
                if type(event).__name__ == "TurnEnded":
                    break
        await client.close()
        await server.stop(None)
        return events

    events = asyncio.run(scenario())
    ended = next(e for e in events if type(e).__name__ == "TurnEnded")
    assert ended.frames == 25  # the game's 1 s line, resampled to 16 kHz, sets the turn's length
    audio = np.concatenate([e.samples for e in events if type(e).__name__ == "AudioChunk"])
    assert len(audio) == 16000 and np.abs(audio).max() > 5000  # its voice comes back, not TTS
    started = next(e for e in events if type(e).__name__ == "TurnStarted")
    assert started.speaker_recognized.label == "angry"
