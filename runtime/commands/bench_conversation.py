"""`eai-avatar bench conversation`: a person talking to an agent through the contract, end to end, live.

A person is played by recorded lines (made with the natural voices, which speech recognition was never tuned on,
or espeak-ng where they are missing), sent as a live microphone: 20 ms of audio every 20 ms, silence before and
after, no transcript and no utterance end; the server (in this process, over loopback gRPC, real-time pacing,
256x256 JPEG frames) finds where each line ends, recognizes it, and the agent answers with the scripted dialogue.

Measured per line, on one clock: from the end of the person's speech (the last loud sample sent) to the first frame
of the agent's answer with voice in it, and how that splits: endpointing (the silence that ends an utterance and
the time to notice it), speech recognition, storing the round, the dialogue, emotion, the voice's first sentence,
and the first frame (Audio2Exp, masks, E_t, renderer, JPEG, sending). Then barge-in: the person talks over the
agent, and the time from their onset to the end of the agent's last 40 ms of voice.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report

LINES = ("Hi, how was the trip to the coast last weekend?", "I lost my keys again, can you believe it?",
         "That sounds wonderful, tell me more about it.", "Honestly, I am a bit tired today.",
         "Did you remember to bring the camera back?", "We should go there together next summer.",
         "I can't stop thinking about that dinner.", "Wait, say that again, I missed it.")  # fmt: skip
INTERRUPTION = "Wait, wait, stop right there please."
LONG_LINE = ("Let me tell you everything about the trip, from the very beginning, when we missed the first train and "
             "had to wait three hours in the cold station with nothing but a flask of tea.")  # fmt: skip
CHUNK = 320  # 20 ms at 16 kHz
LOUD = 300.0  # RMS of PCM16 (-40 dBFS): a sample this loud is speech, not the room


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from eai_avatar.runtime.commands.serve import add_config_arguments

    add_config_arguments(parser)
    parser.add_argument("--lines", type=int, default=8, help="human lines to answer (up to 8)")
    parser.add_argument("--barge-ins", type=int, default=5, help="times the person talks over the agent")
    parser.add_argument("--end-of-speech-ms", type=int, default=0,
                        help="silence that ends an utterance (HumanInput.end_of_speech_ms; 0: default)")  # fmt: skip
    parser.add_argument("--json", action="store_true")


def _voices(tts) -> list[str]:
    """Natural voices where installed (recognition was not tuned on them), else espeak-ng's."""
    chosen = [voice for voice in ("hibari:heart", "piper:joe") if tts.accepts(voice)]
    try:
        chosen = [voice for voice in chosen if len(tts.synthesize("Hello.", voice).samples)]
    except (ImportError, RuntimeError, OSError, ValueError):
        chosen = []
    return chosen or ["en-us", "en-us+f3"]


def _last_loud_sample(samples: np.ndarray) -> int:
    frames = samples[: len(samples) // CHUNK * CHUNK].reshape(-1, CHUNK).astype(np.float64)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > LOUD)
    return int((loud[-1] + 1) * CHUNK) if len(loud) else len(samples)


class _Microphone:
    """A live microphone: 20 ms of audio every 20 ms, silence whenever nobody says anything (its own task, so that
    reading the server's events never slows it down)."""

    def __init__(self, conversation):
        self.conversation = conversation
        self._lines: asyncio.Queue = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run())

    async def say(self, samples: np.ndarray) -> list[float]:
        """Send `samples` from the next chunk on; returns the wall time each of its chunks left at."""
        done = asyncio.get_running_loop().create_future()
        await self._lines.put((samples, done))
        return await done

    async def _run(self) -> None:
        started, sent = time.monotonic(), 0
        while True:
            samples, done = (None, None) if self._lines.empty() else self._lines.get_nowait()
            pieces = [np.zeros(CHUNK, np.int16)] if samples is None else [
                samples[i : i + CHUNK] for i in range(0, len(samples), CHUNK)]  # fmt: skip
            times = []
            for piece in pieces:
                await asyncio.sleep(max(0.0, started + sent * CHUNK / 16000 - time.monotonic()))
                await self.conversation.user_audio(piece, 16000)
                times.append(time.monotonic())
                sent += 1
            if done is not None:
                done.set_result(times)

    def close(self) -> None:
        self._task.cancel()


async def _one_line(servicer, events, conversation, microphone, recording, push_to_talk: bool) -> dict:
    """Say `recording` into the microphone and wait for the answer's voice. With `push_to_talk` the client says
    where the line ended (UserUtteranceEnd as the last loud chunk leaves, as a released talk button does), so no
    silence has to pass before the server knows."""
    loud_end = _last_loud_sample(recording)
    lead = np.zeros(4800, np.int16)
    if push_to_talk:
        times = await microphone.say(np.concatenate([lead, recording[:loud_end]]))
        await conversation.user_utterance_end()
    else:
        times = asyncio.ensure_future(microphone.say(np.concatenate([lead, recording])))
    answered_at, answer = await _answer(events)
    times = times if push_to_talk else await times
    spoken_at = times[(len(lead) + loud_end - 1) // CHUNK]  # the chunk holding the last loud sample left then
    stream = next(iter(servicer.streams))
    marks = stream.latencies[-1] if stream.latencies else {}
    return {"answer": answer, "ms": 1000 * (answered_at - spoken_at), "spoken_at": spoken_at,
            "marks": {k: v for k, v in marks.items() if k != "reason"}}  # fmt: skip


async def _answer(events) -> tuple[float, str]:
    """Read until the agent's answer has voice: (its arrival time, the answer's text)."""
    text = ""
    async for event in events:
        kind = type(event).__name__
        if kind == "TurnStarted" and event.speaker == "bo":
            text = event.text
        if kind == "AudioChunk" and text and np.sqrt(np.mean(event.samples.astype(np.float64) ** 2)) > LOUD:
            return time.monotonic(), text
        if kind == "TurnEnded" and text:
            raise RuntimeError("the agent's answer ended without a voiced frame")
    raise RuntimeError("the stream ended before the agent answered")


async def _turn_end(events) -> None:
    async for event in events:
        if type(event).__name__ == "TurnEnded":
            return


async def _bench(args: argparse.Namespace) -> dict:
    from eai_avatar.client import AsyncAvatarClient
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.commands.serve import load_config
    from eai_avatar.runtime.memory import return_large_blocks_to_the_system
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.sessions import SessionManager
    from eai_avatar.runtime.store import SqliteStore

    return_large_blocks_to_the_system()
    config = load_config(args)
    models = Models(Bundle(config.bundle or default_bundle_path()), config)
    if not models.speech_recognizer_available():
        raise RuntimeError("bench conversation needs speech recognition (pip install 'eai-avatar[asr]')")
    voices = _voices(models.tts)
    recordings = [models.tts.synthesize(line, voices[i % len(voices)]).samples for i, line in enumerate(LINES)]
    manager = SessionManager(models, SqliteStore(":memory:"), config)
    servicer = AvatarServicer(manager=manager, workers=config.threads)
    server, port = await create_server("127.0.0.1:0", servicer)
    await server.start()
    client = AsyncAvatarClient(f"127.0.0.1:{port}")
    result: dict = {"voices": voices}
    hearing = {"end_of_speech_ms": args.end_of_speech_ms} if args.end_of_speech_ms else None
    try:
        session = await client.create_session(["ada", "bo"], mode="human_agent", output={"pacing": "real_time"},
                                              seed=3, human_input=hearing)  # fmt: skip
        async with client.converse(session.session_id) as conversation:
            events = aiter(conversation)
            microphone = _Microphone(conversation)
            try:
                for push_to_talk in (False, True):
                    rows = []
                    for index, recording in enumerate(recordings[: args.lines]):
                        rows.append(
                            await _one_line(servicer, events, conversation, microphone, recording, push_to_talk)
                        )
                        rows[-1]["line"] = LINES[index]
                        await _turn_end(events)
                    table = _latency_table(rows[1:] if len(rows) > 1 else rows)  # the first warms everything up
                    result["push_to_talk" if push_to_talk else "voice_activity"] = table
                result["barge_in_stop_ms"] = await _barge_ins(models, events, conversation, microphone,
                                                              args.barge_ins)  # fmt: skip
            finally:
                microphone.close()
    finally:
        await client.close()
        await server.stop(None)
    return result


async def _barge_ins(models, events, conversation, microphone, count: int) -> dict:
    """The person talks over a long line of the agent's; ms from their onset to the end of the agent's voice."""
    interruption = models.tts.synthesize(INTERRUPTION, _voices(models.tts)[0]).samples
    loud = np.flatnonzero(np.abs(interruption.astype(np.int32)) > 1000)
    first_loud = int(loud[0]) if len(loud) else 0
    stops = []
    for _ in range(count):
        await conversation.scripted_line("bo", LONG_LINE)
        async for event in events:  # the agent is speaking
            if type(event).__name__ == "AudioChunk" and event.avatar == "bo":
                break
        await asyncio.sleep(0.6)
        sent = asyncio.ensure_future(microphone.say(interruption))
        last_voice = time.monotonic()
        async for event in events:
            kind = type(event).__name__
            if kind == "AudioChunk" and event.avatar == "bo":
                last_voice = time.monotonic()
            if kind == "TurnEnded":
                break
        onset = (await sent)[first_loud // CHUNK] - (CHUNK - first_loud % CHUNK) / 16000
        stops.append(1000 * (last_voice + 0.04 - onset))
        await _answer(events)  # the person's line, heard and answered
        await _turn_end(events)
    return {"median": round(float(np.median(stops)), 1), "max": round(float(np.max(stops)), 1), "n": len(stops)}


def _latency_table(rows: list[dict]) -> dict:
    def stage(row, start, end):
        marks = row["marks"]
        first = row["spoken_at"] if start == "spoken" else marks.get(start)
        return 1000 * (marks[end] - first) if first is not None and end in marks else float("nan")

    stages = {
        "endpointing": [stage(r, "spoken", "ended") for r in rows],
        "recognition": [stage(r, "ended", "recognized") for r in rows],
        "storing the round": [stage(r, "recognized", "stored") for r in rows],
        "dialogue": [stage(r, "stored", "line") for r in rows],
        "emotion": [1000 * r["marks"].get("emotion_s", float("nan")) for r in rows],
        "first audio (voice)": [1000 * r["marks"].get("voice_s", float("nan")) for r in rows],
        "first frame": [stage(r, "voiced", "first_frame") for r in rows],
    }
    total = [r["ms"] for r in rows]
    return {"end_of_speech_to_first_voiced_frame_ms": {"median": round(float(np.median(total)), 1),
                                                       "p95": round(float(np.percentile(total, 95)), 1),
                                                       "n": len(total)},
            "stages_ms_median": {name: round(float(np.nanmedian(v)), 1) for name, v in stages.items()},
            # Lines whose words were known at the endpoint (transcribed during the silence that ended them).
            "transcribed_during_the_silence": sum(r["marks"].get("speculated") == 1.0 for r in rows),
            "answers": [(r["line"], r["answer"]) for r in rows]}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.lines <= len(LINES) or args.barge_ins < 1:
        raise ValueError(f"--lines must be 1..{len(LINES)} and --barge-ins at least 1")
    result = {"benchmark": "conversation", "machine": machine(), **asyncio.run(_bench(args))}
    lines = [f"conversation on {result['machine']}, voices {', '.join(result['voices'])}:"]
    for key, how in (("voice_activity", "the server finds the end (voice activity)"),
                     ("push_to_talk", "the client says where it ended (push to talk)")):  # fmt: skip
        latency = result[key]["end_of_speech_to_first_voiced_frame_ms"]
        stages = ", ".join(f"{name} {ms}" for name, ms in result[key]["stages_ms_median"].items())
        lines.append(f"  {how}: end of the person's speech to the agent's first voiced frame {latency['median']} ms "
                     f"median, {latency['p95']} p95 ({latency['n']} lines; {stages} ms; words transcribed during "
                     f"the silence for {result[key]['transcribed_during_the_silence']})")  # fmt: skip
    stop = result["barge_in_stop_ms"]
    lines.append(f"  barge-in: the agent's voice ends {stop['median']} ms after the person's onset (median of "
                 f"{stop['n']}, max {stop['max']})")  # fmt: skip
    return report(result, args.json, "\n".join(lines))
