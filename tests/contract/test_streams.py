"""Converse streams: flow control instead of drops, undecodable bytes, one stream per session, closing, pacing."""

import asyncio
import time

import grpc
import numpy as np
import pytest

from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2, tree_pb2
from tests.contract.conftest import Stream, create, kinds, of, running, statuses

REAL_TIME = session_pb2.OutputOptions(pacing=session_pb2.PACING_REAL_TIME, include_images=False)


def tone(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * 9000).astype("<i2").tobytes()


def test_forty_chunks_sent_at_once_all_arrive_and_get_their_reply(models, tmp_path):
    """40 s of a human's voice in 1 s chunks, written without waiting for anything: the server reads 32 ahead, then
    stops reading (HTTP/2 flow control holds the client's writes); nothing is dropped, the reply comes."""

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, mode=session_pb2.MODE_HUMAN_AGENT)
            stream = await Stream(stub, session_id).attach()
            chunk = tone(1.0)

            async def upload():
                for _ in range(40):
                    await stream.send(user_audio=converse_pb2.UserAudioChunk(
                        audio=common_pb2.Pcm16Audio(samples=chunk, sample_rate=16000)))  # fmt: skip
                await stream.send(user_utterance_end=converse_pb2.UserUtteranceEnd(transcript="A long story."))

            writer = asyncio.create_task(upload())
            events = await stream.until("turn_ended", 2, timeout=240)
            await writer
            await stream.call.done_writing()
            events += await stream.until("end")
            return events

    events = asyncio.run(scenario())
    assert not statuses(events), statuses(events)  # nothing refused, nothing dropped
    started, ended = of(events, "turn_started"), of(events, "turn_ended")
    assert [t.speaker for t in started] == ["ada", "bo"] and started[0].text == "A long story."
    agent_frames = [f for f in of(events, "frame") if f.avatar == "bo"]
    assert ended[0].frames == 1000 and len([f for f in agent_frames if f.presentation_ms < 40_000]) == 1000
    assert kinds(events)[-1] == "end"


def test_bytes_that_are_not_an_event_end_the_call_with_invalid_argument_within_a_second(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, _, _, channel):
            session_id = await create(stub)
            raw = channel.stream_stream("/eai_avatar.v1.AvatarService/Converse", request_serializer=None,
                                        response_deserializer=converse_pb2.ServerEvent.FromString)()  # fmt: skip
            attach = converse_pb2.ClientEvent(attach=converse_pb2.Attach(session_id=session_id))
            await raw.write(attach.SerializeToString())
            header = await raw.read()
            sent = time.monotonic()
            await raw.write(b"\xff\xff\xff\xff\xff\xff")
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                while (await asyncio.wait_for(raw.read(), 5)) is not grpc.aio.EOF:
                    pass
            return header, failure.value, time.monotonic() - sent

    header, error, seconds = asyncio.run(scenario())
    assert header.WhichOneof("event") == "header"
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a valid message" in error.details()
    assert seconds < 1.0


def test_a_second_attach_ends_the_first_stream_with_a_reason(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, output=REAL_TIME)
            first = await Stream(stub, session_id).attach()
            await first.send(advance=converse_pb2.Advance(turns=3))
            await first.until("frame")
            second = await Stream(stub, session_id).attach()
            taken = time.monotonic()
            ended = await first.until("end", timeout=10)
            waited = time.monotonic() - taken
            header = (await second.until("header"))[-1].header
            await second.line("bo", "It is mine now.")
            await second.until("turn_ended")
            tree = await stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id))
            return first.events, of(ended, "end")[0], waited, header, second.events, tree

    first, end, waited, header, second, tree = asyncio.run(scenario())
    assert end.reason.startswith("attached elsewhere") and waited < 1.5
    closed = of(first, "turn_ended")[-1]
    assert closed.interrupted  # the first stream's turn stopped where it was, and says so
    assert closed.frames == len([f for f in of(first, "frame") if f.avatar == "ada"])  # every frame made was sent
    assert of(second, "frame")[0].index == closed.frames  # and the second stream goes on from there, no gap
    assert header.rounds_so_far == 1 and header.clock_ms == of(first, "turn_ended")[-1].duration_ms
    assert of(second, "turn_started")[0].round == 2
    assert [n.id for n in tree.nodes] == [1, 2, 3, 4]


def test_close_session_ends_the_attached_stream_and_deletes_the_tree(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, manager, *_):
            session_id = await create(stub, output=REAL_TIME)
            stream = await Stream(stub, session_id).attach()
            await stream.send(advance=converse_pb2.Advance(turns=5))
            await stream.until("frame")
            closed_at = time.monotonic()
            reply = await stub.CloseSession(session_pb2.CloseSessionRequest(session_id=session_id))
            ended = await stream.until("end", timeout=10)
            waited = time.monotonic() - closed_at
            errors = []
            for call in (stub.GetTree(tree_pb2.GetTreeRequest(session_id=session_id)),
                         stub.CloseSession(session_pb2.CloseSessionRequest(session_id=session_id))):  # fmt: skip
                with pytest.raises(grpc.aio.AioRpcError) as failure:
                    await call
                errors.append(failure.value.code())
            again = await Stream(stub, session_id).attach()
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await again.read()
            errors.append(failure.value.code())
            stored = await asyncio.to_thread(manager.store.list_sessions)
            return reply, of(ended, "end")[0], waited, errors, stored

    reply, end, waited, errors, stored = asyncio.run(scenario())
    assert reply.rounds == 1 and end.reason == "session closed" and waited < 1.5
    assert errors == [grpc.StatusCode.NOT_FOUND] * 3 and stored == []


def test_a_sixty_second_voice_line_at_48_khz_fits_in_a_message(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub)).attach()
            long_line = common_pb2.Pcm16Audio(samples=tone(60.0, 48000), sample_rate=48000)  # 5.76 MB
            await stream.line("ada", "", audio=long_line)
            await stream.until("turn_ended", timeout=120)
            return stream.events

    events = asyncio.run(scenario())
    assert not statuses(events) and of(events, "turn_ended")[0].duration_ms == 60_000


def test_interrupt_stops_the_turn_and_drops_queued_agent_work(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub)
            stream = await Stream(stub, session_id).attach()
            await stream.send(advance=converse_pb2.Advance(turns=1))
            await stream.line("bo", "A queued line that the interrupt drops.")
            await stream.until("frame")
            await stream.send(interrupt=converse_pb2.Interrupt())
            await stream.until("turn_ended")
            await stream.line("bo", "Where were we?")
            await stream.until("turn_ended")
            return stream.events

    events = asyncio.run(scenario())
    started, ended = of(events, "turn_started"), of(events, "turn_ended")
    assert ended[0].interrupted and ended[0].frames <= 2 * 12 + 3
    assert [t.text for t in started][1:] == ["Where were we?"]  # the queued line was dropped, the session goes on


def test_real_time_pacing_and_a_continuous_clock_across_reattach(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, output=REAL_TIME)
            stream = await Stream(stub, session_id).attach()
            started = time.monotonic()
            await stream.line("ada", "One second or so of speech.")
            await stream.until("turn_ended")
            elapsed = time.monotonic() - started
            await stream.send(end=converse_pb2.EndStream())
            await stream.until("end")
            again = await Stream(stub, session_id).attach()
            await again.line("bo", "And on.")
            await again.until("turn_ended")
            return stream.events, elapsed, again.events

    first, elapsed, second = asyncio.run(scenario())
    duration = of(first, "turn_ended")[0].duration_ms
    assert elapsed >= 0.8 * duration / 1000  # events left at presentation time
    assert of(first, "end")[0].reason == "client ended"
    header = of(second, "header")[0]
    assert header.clock_ms == duration and of(second, "turn_started")[0].start_ms == duration
    assert of(second, "frame")[0].presentation_ms == duration
