"""One Converse stream: client events in, the conversation's turns out, paced, interruptible, never fatal.

A reader task turns client events into commands on a bounded queue (a client that floods it is told so, and its
extra commands are dropped, never buffered without end). The writer runs commands one at a time: a turn is planned
(emotion, tree round, voice) in a worker thread, its two nodes are stored durably before its first frame leaves,
then its media is made chunk by chunk in the worker thread and yielded in presentation order. Yielding into the
gRPC stream waits for the client's flow control, so a slow client slows its own session and holds at most one
chunk in memory. An Interrupt stops the turn at the next chunk and drops queued commands. A bad event gets a
Status event (WARNING, with the gRPC code it would have had) and the session goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import numpy as np

from eai_avatar.runtime.itt import EmotionEstimate, propagate
from eai_avatar.runtime.pipeline import TurnPlan, TurnRequest
from eai_avatar.runtime.service.encoding import audio_message, emotion_message, frame_message, status_message
from eai_avatar.runtime.service.sessions import RequestError, Session
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2
from eai_avatar.vocabulary import CONTRACT_VERSION, EMOTIONS, FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 32  # commands waiting per stream
MAX_ADVANCE = 100
MAX_USER_AUDIO_S = 60  # one utterance
MAX_CHUNK_S = 1.0
WARNING, ERROR = common_pb2.Status.CODE_WARNING, common_pb2.Status.CODE_ERROR


@dataclass
class Command:
    kind: str  # advance, scripted, user_text, user_audio, user_end, end
    value: object = None


def _decode_audio(audio: common_pb2.Pcm16Audio, limit_s: float) -> SpeechAudio:
    rate = audio.sample_rate or SAMPLE_RATE
    if not 8000 <= rate <= 48000:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"audio sample_rate must be 8000..48000 Hz, got {rate}")
    if len(audio.samples) % 2:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "audio samples must be whole PCM16 values (even bytes)")
    if len(audio.samples) > 2 * rate * limit_s:
        raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"at most {limit_s:g} s of audio per event")
    if not audio.samples:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "audio is empty")
    return SpeechAudio(np.frombuffer(audio.samples, "<i2").astype(np.int16), rate)


def parse_event(event: converse_pb2.ClientEvent, session: Session) -> Command:
    """A client event -> a command, or RequestError naming what is wrong with it."""
    kind = event.WhichOneof("event")
    characters = session.settings.characters
    human = session.settings.mode == "human_agent"
    if kind is None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "empty ClientEvent")
    if kind == "attach":
        raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, "this stream is already attached")
    if kind == "advance":
        turns = event.advance.turns or 1
        if not 1 <= turns <= MAX_ADVANCE:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"advance.turns must be 1..{MAX_ADVANCE}")
        return Command("advance", turns)
    if kind == "scripted_line":
        line = event.scripted_line
        if line.character not in characters:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"scripted_line.character {line.character!r} is not in "
                               f"this session ({', '.join(characters)})")  # fmt: skip
        if line.emotion_override and line.emotion_override not in EMOTIONS:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"emotion_override {line.emotion_override!r} is "
                               f"not one of {', '.join(EMOTIONS)}")  # fmt: skip
        audio = _decode_audio(line.audio, MAX_USER_AUDIO_S) if line.HasField("audio") else None
        if not line.text.strip() and audio is None:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "scripted_line needs text or audio")
        _check_text(line.text or "(voice line)")
        return Command("scripted", TurnRequest(line.character, line.text.strip() or "(voice line)", audio,
                                               line.emotion_override or None, "scripted"))  # fmt: skip
    if kind in ("user_text", "user_audio", "user_utterance_end") and not human:
        raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, f"{kind} needs a HUMAN_AGENT session")
    if kind == "user_text":
        return Command("user_text", _check_text(event.user_text.text))
    if kind == "user_audio":
        return Command("user_audio", _decode_audio(event.user_audio.audio, MAX_CHUNK_S))
    if kind == "user_utterance_end":
        transcript = event.user_utterance_end.transcript
        return Command("user_end", _check_text(transcript) if transcript.strip() else "")
    if kind == "interrupt":
        return Command("interrupt")
    return Command("end")


def mirror(publisher, session_id: str, event: converse_pb2.ServerEvent) -> None:
    """Copy an event to the frame publisher in the format runtime/publisher.py documents: a frame's or audio
    chunk's fields as the header and its bytes as the payload; other events as their fields."""
    from google.protobuf import json_format

    kind = event.WhichOneof("event")
    if kind == "frame":
        f = event.frame
        encoding = common_pb2.ImageEncoding.Name(f.encoding).removeprefix("IMAGE_ENCODING_").lower()
        header = {"avatar": f.avatar, "index": f.index, "presentation_ms": f.presentation_ms,
                  "role": "speak" if f.role == common_pb2.ROLE_SPEAK else "listen", "emotion": f.emotion,
                  "width": f.width, "height": f.height, "encoding": encoding}  # fmt: skip
        if f.blendshapes:
            header["blendshapes"] = dict(f.blendshapes)
        if f.HasField("head_pose"):
            header["head_pose"] = json_format.MessageToDict(f.head_pose, preserving_proto_field_name=True)
        publisher.publish(session_id, "frame", header, f.image)
    elif kind == "audio":
        a = event.audio
        header = {"avatar": a.avatar, "presentation_ms": a.presentation_ms, "sample_rate": a.audio.sample_rate}
        publisher.publish(session_id, "audio", header, a.audio.samples)
    else:
        fields = json_format.MessageToDict(getattr(event, kind), preserving_proto_field_name=True)
        publisher.publish(session_id, "event", {"type": kind, **fields}, b"")


def output_indices(model_index: int, fps: int) -> range:
    """The output frames (at `fps`) that model frame `model_index` (at 25 fps) stands for: those whose time falls in
    its 40 ms. The ranges of consecutive model frames tile the integers, so output indices have no gaps or
    repeats; at 25 fps each model frame is one output frame, below it some are dropped, above it repeated."""
    return range(-(-model_index * fps // FPS), -(-(model_index + 1) * fps // FPS))


def _check_text(text: str) -> str:
    if not text.strip():
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "text is empty")
    if len(text) > 2000:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"text must be at most 2000 characters, got {len(text)}")
    if "\x00" in text:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "text must not contain NUL characters")
    return text.strip()


class ConverseStream:
    """Drives one attached stream of `session`; `events()` is what the servicer yields."""

    def __init__(self, session: Session, requests: AsyncIterator, store, executor=None, publisher=None):
        self.session, self.requests, self.store = session, requests, store
        self.executor, self.publisher = executor, publisher
        self.commands: asyncio.Queue[Command] = asyncio.Queue(QUEUE_LIMIT)
        self.notices: asyncio.Queue[converse_pb2.ServerEvent] = asyncio.Queue(QUEUE_LIMIT)
        self.interrupted = asyncio.Event()
        self.user_audio: list[np.ndarray] = []
        self.output = session.settings.output
        loop = asyncio.get_running_loop()
        self.anchor = loop.time() - session.conversation.clock_ms / 1000

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    # ------------------------------------------------------------------ reading

    async def read(self) -> None:
        try:
            async for event in self.requests:
                try:
                    command = parse_event(event, self.session)
                except RequestError as error:
                    await self._notice(WARNING, str(error), error.code)
                    continue
                if command.kind == "interrupt":
                    self.interrupted.set()
                    while not self.commands.empty():
                        self.commands.get_nowait()
                    continue
                if self.commands.full():
                    await self._notice(WARNING, f"too many queued events (limit {QUEUE_LIMIT}); this one was dropped",
                                       grpc.StatusCode.RESOURCE_EXHAUSTED)  # fmt: skip
                    continue
                await self.commands.put(command)
                if command.kind == "end":
                    return
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass  # the client went away: the writer sees "end"
        await self.commands.put(Command("end", "client disconnected"))

    async def _notice(self, code: int, message: str, status: grpc.StatusCode | None = None) -> None:
        if self.notices.full():
            return  # a client that floods bad events is not told about each one
        self.notices.put_nowait(status_message(code, message, status.value[0] if status else 0))

    # ------------------------------------------------------------------ writing

    async def events(self) -> AsyncIterator[converse_pb2.ServerEvent]:
        """The stream's server events; each is mirrored to the frame publisher when there is one."""
        async for event in self._events():
            if self.publisher is not None:
                mirror(self.publisher, self.session.id, event)
            yield event

    async def _events(self) -> AsyncIterator[converse_pb2.ServerEvent]:
        session = self.session
        conversation = session.conversation
        yield converse_pb2.ServerEvent(header=converse_pb2.StreamHeader(
            session_id=session.id, contract_version=CONTRACT_VERSION, fps=self.output.fps, sample_rate=SAMPLE_RATE,
            width=self.output.width, height=self.output.height, image_encoding=self.output.image_encoding,
            characters=list(conversation.characters), rounds_so_far=conversation.tree.rounds))  # fmt: skip
        reader = asyncio.create_task(self.read())
        try:
            while True:
                async for notice in self._drain_notices():
                    yield notice
                command = await self._next_command()
                if command is None:
                    continue
                if command.kind == "end":
                    yield converse_pb2.ServerEvent(end=converse_pb2.StreamEnd(reason=command.value or "client ended"))
                    return
                self.interrupted.clear()
                async for event in self._execute(command):
                    yield event
        finally:
            reader.cancel()

    async def _drain_notices(self):
        while not self.notices.empty():
            yield self.notices.get_nowait()

    async def _next_command(self) -> Command | None:
        """The next command, or None after a short wait so notices are not held back behind an idle queue."""
        try:
            return await asyncio.wait_for(self.commands.get(), timeout=0.1)
        except TimeoutError:
            return None

    async def _execute(self, command: Command):
        try:
            if command.kind == "advance":
                for _ in range(command.value):
                    if self.interrupted.is_set():
                        break
                    async for event in self._turn(await self._run(self._dialogue_request, None)):
                        yield event
            elif command.kind == "scripted":
                async for event in self._turn(command.value):
                    yield event
            elif command.kind == "user_text":
                human, agent = self.session.settings.characters
                async for event in self._turn(TurnRequest(human, command.value, source="human", render_speaker=False)):
                    yield event
                async for event in self._turn(await self._run(self._dialogue_request, agent)):
                    yield event
            elif command.kind == "user_audio":
                async for event in self._listen(command.value):
                    yield event
            elif command.kind == "user_end":
                async for event in self._human_audio_turn(command.value):
                    yield event
        except RequestError as error:
            yield status_message(WARNING, str(error), error.code.value[0])
        except (ValueError, KeyError) as error:
            yield status_message(WARNING, str(error), grpc.StatusCode.INVALID_ARGUMENT.value[0])
        except Exception as error:  # a failing backend (TTS, an LLM endpoint) must not end the session
            logger.exception("turn failed in session %s", self.session.id)
            yield status_message(ERROR, f"the turn failed: {error}", grpc.StatusCode.INTERNAL.value[0])

    def _dialogue_request(self, speaker: str | None) -> TurnRequest:
        """The dialogue backend's next line (for `speaker`, else whoever's turn it is)."""
        from eai_avatar.runtime.dialogue import DialogueContext, DialogueLine

        conversation = self.session.conversation
        tree = conversation.tree
        characters = conversation.characters
        if speaker is None:  # agents take turns: the one who did not speak last
            last_speak = next((n for n in reversed(tree.nodes) if n.state == "speak"), None)
            speaker = characters[0] if last_speak is None else tree.other(last_speak.character)
        history = [DialogueLine(node.character, node.text) for node in tree if node.state == "speak"]
        emotions = {}
        for node in tree:
            emotions[node.character] = propagate(tree, node.id).label
        bundle = conversation.models.bundle
        context = DialogueContext(characters=characters,
                                  display_names={n: bundle.identity(n).display_name for n in characters},
                                  personas=self.session.settings.personas, topic=self.session.settings.topic,
                                  history=history, emotions={n: emotions.get(n, "neutral") for n in characters},
                                  next_speaker=speaker)  # fmt: skip
        line = self.session.dialogue.next_line(context)
        # The scripted dialogues' emotion hints are not used: C recognizes the line's emotion, as the paper does.
        source = "scripted" if self.session.settings.backend == "scripted" else "llm"
        return TurnRequest(speaker, line.text, emotion_override=None, source=source)

    async def _turn(self, request: TurnRequest):
        conversation = self.session.conversation
        plan: TurnPlan = await self._run(conversation.plan_turn, request)
        speak, listen = conversation.tree.node(plan.speak_node_id), conversation.tree.node(plan.listen_node_id)
        await self._run(self.store.append_nodes, self.session.id, [speak, listen])  # durable before any frame
        yield self._turn_started(plan)
        loop = asyncio.get_running_loop()
        self.anchor = max(self.anchor, loop.time() - plan.start_ms / 1000)  # an idle pause is not a backlog
        chunks = conversation.turn_chunks(plan)
        frames_done, interrupted = 0, False
        while True:
            if self.interrupted.is_set():
                interrupted = True
                break
            chunk = await self._run(next, chunks, None)
            if chunk is None:
                break
            audio, frames = chunk
            for event in self._chunk_events(plan, audio, frames):
                await self._pace(event)
                yield event
            frames_done += len(audio[0].samples) // SAMPLES_PER_FRAME
            async for notice in self._drain_notices():
                yield notice
        summary = conversation.summary(plan, frames_done, interrupted)
        first = plan.start_ms * FPS // 1000
        fps = self.output.fps
        shown = output_indices(first + frames_done, fps).start - output_indices(first, fps).start
        yield converse_pb2.ServerEvent(turn_ended=converse_pb2.TurnEnded(
            round=summary.round, frames=shown, duration_ms=summary.duration_ms,
            interrupted=summary.interrupted))  # fmt: skip

    def _turn_started(self, plan: TurnPlan) -> converse_pb2.ServerEvent:
        return converse_pb2.ServerEvent(turn_started=converse_pb2.TurnStarted(
            round=plan.round, speaker=plan.speaker, listener=plan.listener, text=plan.text,
            speaker_recognized=emotion_message(plan.speaker_recognized),
            speaker_accumulated=emotion_message(plan.speaker_accumulated),
            listener_recognized=emotion_message(plan.listener_recognized),
            listener_accumulated=emotion_message(plan.listener_accumulated),
            speak_node_id=plan.speak_node_id, listen_node_id=plan.listen_node_id, start_ms=plan.start_ms))  # fmt: skip

    def _chunk_events(self, plan: TurnPlan, audio, frames) -> list[converse_pb2.ServerEvent]:
        events = []
        if self.output.include_audio and plan.render_speaker:
            events += [audio_message(piece) for piece in audio]
        for frame in sorted(frames, key=lambda f: (f.index, f.avatar)):
            if frame.role == "listen" and not self.output.include_listener_frames and plan.render_speaker:
                continue
            events += self._frame_events(frame)
        return events

    def _frame_events(self, frame) -> list[converse_pb2.ServerEvent]:
        """The frame at the session's output rate: once at 25 fps, dropped or repeated at other rates."""
        fps = self.output.fps
        indices = output_indices(frame.index, fps)
        if not indices:
            return []
        message = frame_message(frame, self.output)
        events = []
        for index in indices:
            copy = converse_pb2.ServerEvent()
            copy.CopyFrom(message)
            copy.frame.index, copy.frame.presentation_ms = index, index * 1000 // fps
            events.append(copy)
        return events

    async def _pace(self, event: converse_pb2.ServerEvent) -> None:
        if self.output.pacing != session_pb2.PACING_REAL_TIME:
            return
        kind = event.WhichOneof("event")
        presentation_ms = event.frame.presentation_ms if kind == "frame" else event.audio.presentation_ms
        delay = self.anchor + presentation_ms / 1000 - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _listen(self, speech: SpeechAudio):
        """A human is speaking (audio in HUMAN_AGENT mode): keep it, and show the agent listening meanwhile."""
        total = sum(len(a) for a in self.user_audio) + len(speech.samples) * SAMPLE_RATE // speech.sample_rate
        if total > MAX_USER_AUDIO_S * SAMPLE_RATE:
            raise RequestError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"an utterance may last at most "
                               f"{MAX_USER_AUDIO_S} s; send user_utterance_end")  # fmt: skip
        from eai_avatar.runtime.audio.resample import resample

        samples = speech.samples
        if speech.sample_rate != SAMPLE_RATE:
            floats = resample(samples.astype(np.float32) / 32768.0, speech.sample_rate, SAMPLE_RATE)
            samples = np.clip(np.round(floats * 32767.0), -32768, 32767).astype(np.int16)
        self.user_audio.append(samples)
        conversation = self.session.conversation
        agent = self.session.settings.characters[1]
        last = next((n for n in reversed(conversation.tree.nodes) if n.character == agent), None)
        emotion = propagate(conversation.tree, last.id).label if last else "neutral"
        frames = await self._run(conversation.listen_chunk, agent, emotion, max(1, len(samples) * FPS // SAMPLE_RATE))
        for frame in frames:
            for event in self._frame_events(frame):
                await self._pace(event)
                yield event

    async def _human_audio_turn(self, transcript: str):
        """The human finished speaking: their round enters the tree (the listening was already shown), then the
        agent replies."""
        if not self.user_audio:
            raise RequestError(grpc.StatusCode.FAILED_PRECONDITION, "user_utterance_end without user_audio before it")
        samples = np.concatenate(self.user_audio)
        self.user_audio = []
        human, agent = self.session.settings.characters
        conversation = self.session.conversation
        text = transcript or "(inaudible)"
        recognized = None if transcript else EmotionEstimate.certain("neutral")
        request = TurnRequest(human, text, SpeechAudio(samples, SAMPLE_RATE), source="human", render_speaker=False)
        plan = await self._run(conversation.plan_turn, request, recognized)
        nodes = [conversation.tree.node(plan.speak_node_id), conversation.tree.node(plan.listen_node_id)]
        await self._run(self.store.append_nodes, self.session.id, nodes)
        yield self._turn_started(plan)
        yield converse_pb2.ServerEvent(turn_ended=converse_pb2.TurnEnded(round=plan.round, frames=0, duration_ms=0))
        async for event in self._turn(await self._run(self._dialogue_request, agent)):
            yield event
