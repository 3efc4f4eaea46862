"""The real server, in process, on the shipped default bundle: whole conversations through the Python SDK."""

import asyncio
import random

import grpc
import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the offline voice is espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.client import AsyncAvatarClient, AuthenticationError, NotFoundError  # noqa: E402
from eai_avatar.runtime.bundle import Bundle, default_bundle_path  # noqa: E402
from eai_avatar.runtime.pipeline import Models  # noqa: E402
from eai_avatar.runtime.server import AvatarServicer, create_server  # noqa: E402
from eai_avatar.runtime.sessions import SessionManager  # noqa: E402
from eai_avatar.runtime.store import SqliteStore  # noqa: E402
from eai_avatar.v1 import converse_pb2, service_pb2_grpc  # noqa: E402

FAST = {"pacing": "as_fast_as_possible", "include_images": False}


@pytest.fixture(scope="module")
def models():
    return Models(Bundle(default_bundle_path()), threads=2)


def serve(models, tmp_path, token=None):
    """An async context: a started server on port 0 and a client of it."""

    class Running:
        async def __aenter__(self):
            self.manager = SessionManager(models, SqliteStore(tmp_path / "store.db"))
            self.server, self.port = await create_server("127.0.0.1:0", AvatarServicer(manager=self.manager),
                                                         token=token)  # fmt: skip
            await self.server.start()
            self.client = AsyncAvatarClient(f"127.0.0.1:{self.port}", token=token)
            return self

        async def __aexit__(self, *exc):
            await self.client.close()
            await self.server.stop(None)
            self.manager.store.close()

    return Running()


async def collect(conversation, until_turns: int, limit: int = 20000):
    events = []
    async for event in conversation:
        events.append(event)
        if sum(type(e).__name__ == "TurnEnded" for e in events) >= until_turns or len(events) > limit:
            break
    return events


def of(events, name):
    return [e for e in events if type(e).__name__ == name]


def test_an_agent_agent_conversation_of_six_turns(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            session = await running.client.create_session(["ada", "bo"], output=FAST, seed=7)
            async with running.client.converse(session.session_id) as conversation:
                await conversation.advance(6)
                events = await collect(conversation, 6)
                await conversation.end()
            tree = await running.client.get_tree(session.session_id)
        return events, tree

    events, tree = asyncio.run(scenario())
    started, ended = of(events, "TurnStarted"), of(events, "TurnEnded")
    assert [t.round for t in started] == [1, 2, 3, 4, 5, 6]
    assert [t.speaker for t in started] == ["ada", "bo"] * 3  # roles switch every turn
    assert all(t.listener != t.speaker for t in started)
    nodes = {node.id: node for node in tree.nodes}
    assert len(nodes) == 12
    for turn in started:  # the faces show Q of their nodes, as the stored tree computes it
        assert turn.speaker_accumulated.label == nodes[turn.speak_node_id].accumulated.label
        assert turn.listener_accumulated.label == nodes[turn.listen_node_id].accumulated.label
    frames = of(events, "Frame")
    for avatar in ("ada", "bo"):
        indices = [f.index for f in frames if f.avatar == avatar]
        assert indices == list(range(len(indices)))  # no gaps, both avatars every frame
        assert all(f.presentation_ms == f.index * 40 for f in frames if f.avatar == avatar)
    assert sum(t.frames for t in ended) == len(frames) // 2
    by_turn = {}
    for frame in frames:
        by_turn.setdefault(frame.role, set()).add(frame.emotion)
    assert all(len(f.blendshapes) == 52 and f.head_pose is not None for f in frames)
    audio = of(events, "AudioChunk")
    assert audio and all(a.presentation_ms % 40 == 0 for a in audio)
    spoken = sum(len(a.samples) for a in audio) / 16000
    assert abs(spoken - len(frames) / 2 / 25) < 0.05  # audio and video cover the same time


def test_images_are_rendered_and_decoded(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            output = {"pacing": "as_fast_as_possible", "image_encoding": "raw_rgba", "width": 128, "height": 128}
            session = await running.client.create_session(["cyra", "dev"], output=output, seed=1)
            async with running.client.converse(session.session_id) as conversation:
                await conversation.scripted_line("cyra", "I found it!", emotion="happy")
                events = await collect(conversation, 1)
        return events

    events = asyncio.run(scenario())
    frames = of(events, "Frame")
    assert frames[0].image.shape == (128, 128, 4)
    assert frames[0].image[..., 3].max() > 200 and frames[0].image[..., 3].min() < 20  # alpha = the head mask
    assert of(events, "TurnStarted")[0].speaker_recognized.label == "happy"  # the override


def test_a_human_agent_exchange_with_text_and_with_audio(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            session = await running.client.create_session(["ada", "bo"], mode="human_agent", output=FAST, seed=2)
            async with running.client.converse(session.session_id) as conversation:
                await conversation.say("Hello there, how was your trip?")
                typed = await collect(conversation, 2)
                noise = (np.random.default_rng(0).standard_normal(16000) * 2000).astype(np.int16)
                await conversation.user_audio(noise, 16000)
                await conversation.user_utterance_end("I missed you so much!")
                spoken = await collect(conversation, 2)
        return typed, spoken

    typed, spoken = asyncio.run(scenario())
    for events in (typed, spoken):
        human, agent = of(events, "TurnStarted")
        assert human.speaker == "ada" and agent.speaker == "bo"
        assert {f.avatar for f in of(events, "Frame")} == {"bo"}  # the human's side is not drawn
        assert {a.avatar for a in of(events, "AudioChunk")} == {"bo"}
    listening = [f for f in spoken if type(f).__name__ == "Frame" and f.role.lower().endswith("listen")]
    assert len(listening) >= 25  # the agent listened for the second the human spoke


def test_interrupt_stops_a_turn_within_a_chunk_and_the_session_goes_on(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            session = await running.client.create_session(["ada", "bo"], output=FAST, seed=3)
            async with running.client.converse(session.session_id) as conversation:
                await conversation.advance(3)
                events = []
                async for event in conversation:
                    events.append(event)
                    if type(event).__name__ == "Frame":
                        await conversation.interrupt()
                        break
                events += await collect(conversation, 1)
                await conversation.scripted_line("bo", "Anyway, where were we?")
                events += await collect(conversation, 1)
        return events

    events = asyncio.run(scenario())
    ended = of(events, "TurnEnded")
    assert ended[0].interrupted and ended[0].frames <= 2 * 12  # at most the chunk in flight and one more
    assert not ended[1].interrupted and of(events, "TurnStarted")[-1].text == "Anyway, where were we?"
    assert len(of(events, "TurnStarted")) == 2  # the queued turns of advance(3) were dropped


def test_bad_requests_get_clear_errors_and_the_session_stays_usable(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            client = running.client
            with pytest.raises(NotFoundError):
                await client.create_session(["ada", "nobody"])
            with pytest.raises(ValueError, match="fps"):
                await client.create_session(["ada", "bo"], output={"fps": 61})
            with pytest.raises(NotFoundError):
                async with client.converse("no-such-session") as conversation:
                    await collect(conversation, 1)
            session = await client.create_session(["ada", "bo"], output=FAST)
            stub = service_pb2_grpc.AvatarServiceStub(client._channel)
            line = converse_pb2.ScriptedLine
            bad = [
                converse_pb2.ClientEvent(scripted_line=line(character="eli", text="Who am I?")),
                converse_pb2.ClientEvent(scripted_line=line(character="ada", text="x" * 2500)),
                converse_pb2.ClientEvent(scripted_line=line(character="ada", text="Fine.", emotion_override="grumpy")),
                converse_pb2.ClientEvent(user_text=converse_pb2.UserText(text="I am not in a human session")),
                converse_pb2.ClientEvent(user_audio=converse_pb2.UserAudioChunk(audio={"samples": b"\x00" * 99})),
            ]
            events = []

            async def requests():
                yield converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session.session_id))
                for event in bad:
                    yield event
                yield converse_pb2.ClientEvent(scripted_line=line(character="ada", text="Still here."))
                while not any(e.WhichOneof("event") == "turn_ended" for e in events):
                    await asyncio.sleep(0.05)
                yield converse_pb2.ClientEvent(end=converse_pb2.EndStream())

            async for event in stub.Converse(requests()):
                events.append(event)
        return events

    events = asyncio.run(scenario())
    statuses = [e.status for e in events if e.WhichOneof("event") == "status"]
    assert len(statuses) == 5 and {s.grpc_code for s in statuses} >= {3, 5, 9}
    assert any("eli" in s.message for s in statuses) and any("grumpy" in s.message for s in statuses)
    started = [e.turn_started for e in events if e.WhichOneof("event") == "turn_started"]
    assert [t.text for t in started] == ["Still here."]


def test_token_auth(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path, token="s3cret") as running:
            assert "ada" in (await running.client.list_identities()).names
            stranger = AsyncAvatarClient(f"127.0.0.1:{running.port}", token="wrong")
            with pytest.raises(AuthenticationError):
                await stranger.list_identities()
            with pytest.raises(AuthenticationError):
                async with stranger.converse("anything") as conversation:
                    await collect(conversation, 1)
            await stranger.close()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
                from grpc_health.v1 import health_pb2, health_pb2_grpc

                health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
                assert health.status == health_pb2.HealthCheckResponse.SERVING  # health needs no token

    asyncio.run(scenario())


def _random_event(rng: random.Random, session_id: str) -> converse_pb2.ClientEvent:
    """A random or mutated client event: valid shapes with wild values, and raw bytes parsed as an event."""
    text = "".join(rng.choice("ab \x00\U0001f600é\n") for _ in range(rng.choice([0, 1, 5, 3000])))
    choice = rng.randrange(9)
    if choice == 0:
        return converse_pb2.ClientEvent(user_text=converse_pb2.UserText(text=text))
    if choice == 1:
        rate = rng.choice([0, 1, 8000, 16000, 48000, 96000, 2**31])
        samples = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 31, 3200])))
        audio = converse_pb2.UserAudioChunk(audio={"samples": samples, "sample_rate": rate})
        return converse_pb2.ClientEvent(user_audio=audio)
    if choice == 2:
        line = converse_pb2.ScriptedLine(character=rng.choice(["ada", "bo", "", "zz"]), text=text,
                                         emotion_override=rng.choice(["", "happy", "HAPPY", "nan"]))  # fmt: skip
        return converse_pb2.ClientEvent(scripted_line=line)
    if choice == 3:
        return converse_pb2.ClientEvent(advance=converse_pb2.Advance(turns=rng.choice([0, 101, 2**31])))
    if choice == 4:
        return converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session_id))
    if choice == 5:
        return converse_pb2.ClientEvent(user_utterance_end=converse_pb2.UserUtteranceEnd(transcript=text))
    if choice == 6:
        return converse_pb2.ClientEvent()
    event = converse_pb2.ClientEvent()
    try:
        event.ParseFromString(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
    except Exception:  # noqa: BLE001 - most random bytes are no message; send an empty event then
        event = converse_pb2.ClientEvent()
    if event.WhichOneof("event") in ("end", "advance", "scripted_line", "user_utterance_end", "interrupt"):
        event = converse_pb2.ClientEvent()  # keep the fuzz from ending the stream or starting long turns
    return event


def test_fuzzed_events_never_take_the_server_down(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            session = await running.client.create_session(["ada", "bo"], output=FAST, seed=4)
            rng = random.Random(0)
            stub = service_pb2_grpc.AvatarServiceStub(running.client._channel)

            async def requests():
                yield converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session.session_id))
                for _ in range(3000):
                    event = _random_event(rng, session.session_id)
                    if event.WhichOneof("event") in ("scripted_line", "advance", "user_utterance_end"):
                        event = converse_pb2.ClientEvent(user_text=converse_pb2.UserText(text=""))
                    yield event
                yield converse_pb2.ClientEvent(end=converse_pb2.EndStream())

            statuses = 0
            async for event in stub.Converse(requests()):
                statuses += event.WhichOneof("event") == "status"
            # the server is still up and the session still works
            async with running.client.converse(session.session_id) as conversation:
                await conversation.scripted_line("bo", "Are we done yet?")
                events = await collect(conversation, 1)
        return statuses, events

    statuses, events = asyncio.run(scenario())
    assert statuses > 0 and of(events, "TurnStarted")[0].text == "Are we done yet?"


def test_eight_concurrent_sessions(models, tmp_path):
    async def one(client, index):
        session = await client.create_session(["ada", "bo"] if index % 2 else ["cyra", "dev"], output=FAST,
                                              seed=index + 1)  # fmt: skip
        async with client.converse(session.session_id) as conversation:
            speaker = "bo" if index % 2 else "dev"
            await conversation.scripted_line(speaker, f"Session {index} says hello.")
            return await collect(conversation, 1)

    async def scenario():
        async with serve(models, tmp_path) as running:
            return await asyncio.gather(*(one(running.client, i) for i in range(8)))

    results = asyncio.run(scenario())
    for index, events in enumerate(results):
        assert of(events, "TurnStarted")[0].text == f"Session {index} says hello."
        assert of(events, "TurnEnded")[0].frames > 0 and not of(events, "TurnEnded")[0].interrupted


def test_a_slow_client_holds_back_its_session(models, tmp_path):
    async def scenario():
        async with serve(models, tmp_path) as running:
            output = {"pacing": "as_fast_as_possible", "image_encoding": "raw_rgba"}  # 256 KB per frame
            session = await running.client.create_session(["ada", "bo"], output=output, seed=5)
            async with running.client.converse(session.session_id) as conversation:
                await conversation.advance(4)
                await conversation.__anext__()
                await asyncio.sleep(4)  # read nothing
                made = running.manager.get(session.session_id).conversation.clock_frames
        return made

    made = asyncio.run(scenario())
    assert made < 150  # flow control stopped the session: four turns are several hundred frames
