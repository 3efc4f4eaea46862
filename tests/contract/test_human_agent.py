"""HUMAN_AGENT: the human's audio drives frames that follow it whatever the chunking, the human's turn has
correct boundaries, Advance makes only the agent speak, and the human's own avatar moves with their voice."""

import asyncio

import grpc
import numpy as np
import pytest

from eai_avatar.runtime.audio import resample
from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2
from tests.contract.conftest import Stream, create, kinds, of, running, statuses

HUMAN = session_pb2.MODE_HUMAN_AGENT


def voice(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    syllables = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float64)  # on and off, like words
    return (np.sin(2 * np.pi * 160 * t) * syllables * 9000).astype(np.int16)


async def speak(stream: Stream, samples: np.ndarray, rate: int, chunk_s: float, transcript: str = ""):
    step = max(1, int(rate * chunk_s))
    for start in range(0, len(samples), step):
        audio = common_pb2.Pcm16Audio(samples=samples[start : start + step].astype("<i2").tobytes(), sample_rate=rate)
        await stream.send(user_audio=converse_pb2.UserAudioChunk(audio=audio))
    await stream.send(user_utterance_end=converse_pb2.UserUtteranceEnd(transcript=transcript))


@pytest.mark.parametrize("chunk_ms", [20, 100, 1000])
def test_frames_follow_the_audio_whatever_the_chunking(models, tmp_path, chunk_ms):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, mode=HUMAN)
            stream = await Stream(stub, session_id).attach()
            await speak(stream, voice(3.41, 16000), 16000, chunk_ms / 1000, "Hello there.")
            await stream.until("turn_ended", 2)
            return stream.events

    events = asyncio.run(scenario())
    assert not statuses(events)
    speech = of(events, "human_speech")[0]
    human_turn, agent_turn = of(events, "turn_started")
    human_end = of(events, "turn_ended")[0]
    assert (speech.round, speech.speaker, speech.start_ms) == (1, "ada", 0)
    assert human_turn.start_ms == speech.start_ms and human_turn.text == "Hello there." and human_turn.round == 1
    frames = [f for f in of(events, "frame") if f.presentation_ms < human_end.duration_ms]
    assert human_end.frames == 86 == len(frames)  # ceil(3.41 s * 25), whatever the chunks
    assert {f.avatar for f in frames} == {"bo"} and {f.role for f in frames} == {common_pb2.ROLE_LISTEN}
    order = kinds(events)
    assert order.index("human_speech") < order.index("frame") < order.index("turn_started")
    assert agent_turn.speaker == "bo" and agent_turn.start_ms == human_end.duration_ms


def test_a_humans_own_avatar_moves_with_their_voice(models, tmp_path):
    output = session_pb2.OutputOptions(pacing=session_pb2.PACING_AS_FAST_AS_POSSIBLE, include_images=False,
                                       include_human_avatar=True)  # fmt: skip

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, mode=HUMAN, output=output)
            stream = await Stream(stub, session_id).attach()
            spoken = resample(models.tts.synthesize("Well, how are you doing today, my friend?", "en-us").samples,
                              16000, 22050)  # fmt: skip
            quiet_then_talking = np.concatenate([np.zeros(22050, np.int16), spoken[:44100]])
            await speak(stream, quiet_then_talking, 22050, 0.05)
            await stream.until("turn_ended")
            return stream.events

    events = asyncio.run(scenario())
    human = [f for f in of(events, "frame") if f.avatar == "ada"]
    agent = [f for f in of(events, "frame") if f.avatar == "bo"]
    assert len(human) == len(agent) == 75 == of(events, "turn_ended")[0].frames
    jaw = np.array([f.blendshapes["jawOpen"] for f in human])
    assert jaw[30:70].mean() > 0.05 and jaw[30:70].mean() > 5 * jaw[2:20].mean()  # the mouth moves with the voice
    started = of(events, "turn_started")[0]
    assert started.text == "(inaudible)" and started.speaker_recognized.label == "neutral"
    assert started.speaker_recognized.confidence < 0.5  # words unknown: a low-confidence neutral, not a guess


def test_advance_makes_only_the_agent_speak(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            session_id = await create(stub, mode=HUMAN)
            stream = await Stream(stub, session_id).attach()
            await stream.send(advance=converse_pb2.Advance(turns=3))
            await stream.until("turn_ended", 3)
            return stream.events

    events = asyncio.run(scenario())
    started = of(events, "turn_started")
    assert [t.speaker for t in started] == ["bo", "bo", "bo"]
    assert len({t.text for t in started}) == 3  # the agent walks on through its script, never repeating a line


def test_user_text_gets_a_reply_and_user_audio_needs_human_agent(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            human = await Stream(stub, await create(stub, mode=HUMAN)).attach()
            await human.send(user_text=converse_pb2.UserText(text="How was the trip?"))
            await human.until("turn_ended", 2)
            agents = await Stream(stub, await create(stub)).attach()
            await agents.send(user_audio=converse_pb2.UserAudioChunk(
                audio=common_pb2.Pcm16Audio(samples=b"\0\0" * 800, sample_rate=16000)))  # fmt: skip
            await agents.send(user_text=converse_pb2.UserText(text="hi"))
            await agents.until("status", 2)
            return human.events, agents.events

    human, agents = asyncio.run(scenario())
    started = of(human, "turn_started")
    assert [t.speaker for t in started] == ["ada", "bo"] and started[0].text == "How was the trip?"
    assert all(f.avatar == "bo" for f in of(human, "frame"))  # the human has no avatar unless asked
    refused = statuses(agents, grpc.StatusCode.FAILED_PRECONDITION)
    assert len(refused) == 2 and all(s.code == common_pb2.Status.CODE_WARNING for s in refused)


def test_an_open_utterance_refuses_other_turns(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub, mode=HUMAN)).attach()
            audio = common_pb2.Pcm16Audio(samples=voice(0.5, 16000).astype("<i2").tobytes(), sample_rate=16000)
            await stream.send(user_audio=converse_pb2.UserAudioChunk(audio=audio))
            await stream.send(user_text=converse_pb2.UserText(text="Meanwhile, a typed line."))
            refused = (await stream.until("status"))[-1].status
            await stream.send(user_utterance_end=converse_pb2.UserUtteranceEnd(transcript="Hello."))
            await stream.until("turn_ended", 2)
            return refused, stream.events

    refused, events = asyncio.run(scenario())
    assert refused.grpc_code == grpc.StatusCode.FAILED_PRECONDITION.value[0] and refused.client_event == 2
    started = of(events, "turn_started")
    assert [(t.round, t.speaker, t.text) for t in started][0] == (1, "ada", "Hello.")
    assert [t.start_ms for t in started] == sorted(t.start_ms for t in started)  # the clock never goes back


def test_an_interrupt_during_the_humans_line_drops_the_agents_reply(models, tmp_path):
    live = session_pb2.OutputOptions(pacing=session_pb2.PACING_REAL_TIME, include_images=False)

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub, mode=HUMAN, output=live)).attach()
            await stream.send(user_text=converse_pb2.UserText(text="Let me tell you a rather long story, if I may."))
            await stream.until("frame")
            await stream.send(interrupt=converse_pb2.Interrupt())
            await stream.until("turn_ended")
            await stream.send(user_text=converse_pb2.UserText(text="Hi."))
            await stream.until("turn_ended", 2)
            return stream.events

    events = asyncio.run(scenario())
    started, ended = of(events, "turn_started"), of(events, "turn_ended")
    assert ended[0].interrupted and [(t.round, t.speaker) for t in started] == [(1, "ada"), (2, "ada"), (3, "bo")]


def test_audio_limits_and_a_rate_change_are_refused_and_the_stream_goes_on(models, tmp_path):
    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub, mode=HUMAN)).attach()
            for samples, rate in ((b"\0\0" * 20000, 16000), (b"\0\0\0", 16000), (b"\0\0" * 100, 96000),
                                  (b"\0\0" * 800, 16000), (b"\0\0" * 400, 8000)):  # fmt: skip
                audio = common_pb2.Pcm16Audio(samples=samples, sample_rate=rate)
                await stream.send(user_audio=converse_pb2.UserAudioChunk(audio=audio))
            await stream.until("status", 4)
            await stream.send(user_utterance_end=converse_pb2.UserUtteranceEnd())
            await stream.until("turn_ended", 2)
            return stream.events

    events = asyncio.run(scenario())
    codes = [s.grpc_code for s in statuses(events)]
    assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]] + [grpc.StatusCode.INVALID_ARGUMENT.value[0]] * 3
    assert "sample rate" in statuses(events)[-1].message
    assert of(events, "turn_ended")[0].frames == 2  # the one good 50 ms chunk: ceil(1.25) frames


def test_listener_frames_off_means_none_while_the_human_talks(models, tmp_path):
    speakers_only = session_pb2.OutputOptions(pacing=session_pb2.PACING_AS_FAST_AS_POSSIBLE, include_images=False,
                                              include_listener_frames=False)  # fmt: skip

    async def scenario():
        async with running(models, tmp_path / "s.db") as (stub, *_):
            stream = await Stream(stub, await create(stub, mode=HUMAN, output=speakers_only)).attach()
            await speak(stream, voice(1.0, 16000), 16000, 0.25, "Hi.")
            await stream.until("turn_ended", 2)
            return stream.events

    events = asyncio.run(scenario())
    human_end, agent_end = of(events, "turn_ended")
    frames = of(events, "frame")
    assert human_end.frames == 0 and human_end.duration_ms == 1000  # the agent's listening face is not sent...
    assert {(f.avatar, f.role) for f in frames} == {("bo", common_pb2.ROLE_SPEAK)}  # ...its speaking face is
    assert agent_end.frames == len(frames) and frames[0].index == 25  # its slot on the clock: after the human's 1 s
