"""One attached stream of a session: commands in, the session's typed events out, paced, interruptible, never
fatal, and nothing accepted ever dropped.

Three parts, each with its own bound:

    reader    commands from the client (translated by the service) -> the command queue (`queued_events`). When
              the queue is full the reader stops reading, so the transport's flow control (HTTP/2 windows) makes
              the client's sends wait: a client never has to pace itself, and no accepted event is discarded.
    producer  holds the session (`Session.driving`) and runs commands one at a time in a worker thread: a turn is
              prepared, its round committed whole to the store before its first frame, then its media made chunk by
              chunk, each event paced (real time) and put in the outbox (`outbox_events`): a slow client holds its
              own session back and pins a bounded amount of memory.
    events()  what the output yields: the outbox, in order, ending with StreamEnded (or StreamFailed).

`stop(reason)` (a second attach, CloseSession, the server stopping) ends the producer at the next chunk; the
stream then ends with StreamEnded(reason), even when its client is not reading. An Interrupt stops the turn in
progress at the next chunk and drops queued agent work; a bad command becomes a Notice and the stream goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable

from eai_avatar.runtime.config import Limits
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput, NotFound, Unavailable
from eai_avatar.runtime.pipeline.events import (
    AudioOut,
    Event,
    FrameOut,
    HumanSpeech,
    Notice,
    StreamEnded,
    StreamFailed,
    StreamStarted,
    TurnEnded,
    TurnStarted,
)
from eai_avatar.runtime.pipeline.frames import MediaChunk, TurnRequest
from eai_avatar.runtime.pipeline.stages import check_text
from eai_avatar.runtime.sessions.commands import (
    DROPPED_BY_INTERRUPT,
    Advance,
    Command,
    EndStream,
    EndUtterance,
    HearAudio,
    Interrupt,
    Rejected,
    Say,
    SpeakLine,
    Undecodable,
)
from eai_avatar.runtime.sessions.manager import Session
from eai_avatar.vocabulary import FPS

logger = logging.getLogger(__name__)

#: Errors that are the client's or the moment's, reported as a WARNING Notice; anything else is a failed turn.
EXPECTED = (InvalidInput, NotFound, FailedPrecondition, Unavailable, ValueError, KeyError)


class _Changed:
    """Wakes whoever waits for a queue to change. No lock: the event loop runs one task at a time, and a waiter
    checks its condition again after every wake. (Waiting on an asyncio.Condition in a task that can be cancelled
    let a cancelled waiter re-take the condition's lock after its caller had moved on: "Lock is not acquired".)"""

    def __init__(self):
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        if stop is None:
            await self._event.wait()
        else:
            await _wait_either(self._event.wait(), stop.wait())


class Outbox:
    """The events made and not yet sent. `put` waits while `limit` events are waiting (a slow client holds its
    session back); `put_urgent` never waits (the end of a stream must get through to a client that reads)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: deque[Event] = deque()
        self._changed = _Changed()

    async def put(self, event: Event, stop: asyncio.Event) -> bool:
        """Add `event` once there is room; False (and not added) if `stop` is set first."""
        while len(self._items) >= self.limit and not stop.is_set():
            await self._changed.wait(stop)
        if stop.is_set():
            return False
        self.put_urgent(event)
        return True

    def put_urgent(self, event: Event) -> None:
        self._items.append(event)
        self._changed.notify()

    async def get(self) -> Event:
        while not self._items:
            await self._changed.wait()
        event = self._items.popleft()
        self._changed.notify()
        return event

    async def drained(self, stop: asyncio.Event) -> None:
        """Wait until every event put has been taken (or `stop` is set)."""
        while self._items and not stop.is_set():
            await self._changed.wait(stop)


class CommandQueue:
    """Commands read ahead of the producer, at most `limit`; `put` waits for room (that wait is the flow control).
    Each command travels with its number: the client event it came from, counting from 1 after the attach."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: deque[tuple[int, Command]] = deque()
        self._changed = _Changed()

    async def put(self, number: int, command: Command) -> None:
        while len(self._items) >= self.limit:
            await self._changed.wait()
        self._items.append((number, command))
        self._changed.notify()

    async def get(self, stop: asyncio.Event) -> tuple[int, Command] | None:
        """The next (number, command), or None once `stop` is set."""
        while not self._items and not stop.is_set():
            await self._changed.wait(stop)
        if stop.is_set():
            return None
        item = self._items.popleft()
        self._changed.notify()
        return item

    def drop(self, kinds: tuple[type, ...]) -> int:
        kept = deque(item for item in self._items if not isinstance(item[1], kinds))
        dropped = len(self._items) - len(kept)
        self._items = kept
        self._changed.notify()
        return dropped


async def _wait_either(*awaitables) -> None:
    """Until the first of `awaitables` is done; the others are cancelled and awaited (nothing left pending)."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SessionStream:
    """Drives `session` from `commands`; `events()` is what an output sends.

    Args:
        session: the session (it is attached at `events()`; a stream already attached ends).
        commands: the client's commands, in order (an async iterator that ends when the client half-closes).
        limits: queue and outbox bounds, text and audio limits.
        executor: where model work runs (None: the loop's default).
        mirrors: outputs that see every event too (e.g. the ZeroMQ publisher): callables (session_id, event).
    """

    def __init__(self, session: Session, commands: AsyncIterator[Command], limits: Limits, executor=None,
                 mirrors: Iterable[Callable[[str, Event], None]] = ()):  # fmt: skip
        self.session, self.commands, self.limits, self.executor = session, commands, limits, executor
        self.mirrors = list(mirrors)
        self.queue = CommandQueue(limits.queued_events)
        self.outbox = Outbox(limits.outbox_events)
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._interrupts = 0  # counts Interrupts; a turn stops when it changes under it
        self._anchor = 0.0  # loop time of presentation time 0, for real-time pacing
        self._producer: asyncio.Task | None = None
        self._turn_playing: tuple | None = None  # (plan, epoch) of the turn being sent
        self._stop_at_frame: int | None = None  # a barge-in's stopping point in the playing turn
        self._barged = asyncio.Event()  # wakes a paced send when a barge-in decides

    # ------------------------------------------------------------------ control

    def stop(self, reason: str) -> None:
        """End the stream: the work in progress stops at the next chunk, then StreamEnded(reason)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    async def finished(self) -> None:
        """Until the producer has let go of the session (its turn closed, its clock stored)."""
        if self._producer is not None:
            await asyncio.gather(self._producer, return_exceptions=True)

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    # ------------------------------------------------------------------ the output side

    async def events(self) -> AsyncIterator[Event]:
        self.session.attach(self)
        self._producer = asyncio.create_task(self._produce())
        reader = asyncio.create_task(self._read())
        try:
            while True:
                event = await self.outbox.get()
                for mirror in self.mirrors:
                    mirror(self.session.id, event)
                yield event
                if isinstance(event, StreamEnded | StreamFailed):
                    return
        finally:
            self.stop(self._stop_reason or "client gone")
            reader.cancel()
            self.session.detach(self)
            # The producer finishes the chunk in hand (its worker-thread step) and lets go of the session by itself.

    # ------------------------------------------------------------------ reading

    async def _read(self) -> None:
        number = 0
        try:
            async for command in self.commands:
                number += 1
                match command:
                    case Undecodable(error=error):
                        self.outbox.put_urgent(StreamFailed(error))
                        self.stop("undecodable event")
                        return
                    case Rejected(error=error):
                        await self.outbox.put(Notice("warning", str(error), error, number), self._stop)
                    case Interrupt():
                        self._interrupts += 1
                        self.queue.drop(DROPPED_BY_INTERRUPT)
                    case EndStream():
                        await self.queue.put(number, command)
                        return
                    case _:
                        await self.queue.put(number, command)  # waits while the queue is full: flow control
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the transport failed (the client vanished): nothing more will come
            logger.debug("stream of session %s stopped reading: %s", self.session.id, exc)
        await self.queue.put(number + 1, EndStream("client ended"))

    # ------------------------------------------------------------------ producing

    async def _produce(self) -> None:
        session = self.session
        async with session.driving:
            if not self._stop.is_set():
                conversation = session.conversation
                loop = asyncio.get_running_loop()
                self._anchor = loop.time() - conversation.clock_ms / 1000
                started = StreamStarted(session.id, conversation.characters, session.settings.output,
                                        conversation.rounds, conversation.clock_ms)  # fmt: skip
                await self.outbox.put(started, self._stop)
                await self._serve_commands()
                if conversation.human_speech is not None:  # an utterance left open goes on at the next attach
                    await self._run(conversation.store_clock)
        self.outbox.put_urgent(StreamEnded(self._stop_reason or "client ended"))

    async def _serve_commands(self) -> None:
        while True:
            item = await self.queue.get(self._stop)
            if item is None:
                return
            number, command = item
            if isinstance(command, EndStream):
                self.stop(command.reason)
                return
            epoch = self._interrupts
            try:
                await self._execute(command, epoch)
            except EXPECTED as error:
                await self._notice("warning", str(error), error, number)
            except Exception as error:  # a failing backend (TTS, an LLM endpoint) must not end the session
                logger.exception("a turn failed in session %s", self.session.id)
                await self._notice("error", f"the turn failed: {error}", error, number)

    async def _notice(self, level: str, message: str, error: BaseException | None, number: int) -> None:
        notice = Notice(level, message, error, number)
        if self._stop.is_set():
            self.outbox.put_urgent(notice)
        else:
            await self.outbox.put(notice, self._stop)

    async def _emit(self, event: Event) -> bool:
        """Send `event` in turn; False if the stream stopped first. The events that close what was started
        (TurnEnded, StreamEnded) still go out when the stream is stopping, without waiting for room."""
        if self._stop.is_set():
            if isinstance(event, TurnEnded | TurnStarted):
                self.outbox.put_urgent(event)
                return True
            return False
        return await self.outbox.put(event, self._stop)

    async def _execute(self, command: Command, epoch: int) -> None:
        settings = self.session.settings
        conversation = self.session.conversation
        if conversation.human_speech is not None and not isinstance(command, HearAudio | EndUtterance):
            raise FailedPrecondition("the human is speaking (an audio utterance is open): send user_utterance_end "
                                     "before other events")  # fmt: skip
        match command:
            case Advance(turns=turns):
                if not 1 <= turns <= self.limits.advance_turns:
                    raise InvalidInput(f"advance.turns must be 1..{self.limits.advance_turns}, got {turns}")
                for _ in range(turns):
                    await self._reply(epoch)
            case SpeakLine(request=request):
                if request.speaker not in settings.characters:
                    raise NotFound(f"scripted_line.character {request.speaker!r} is not in this session "
                                   f"({', '.join(settings.characters)})")  # fmt: skip
                await self._turn(request, epoch)
            case Say(text=text):
                human = self._human("user_text")
                text = check_text(text, self.limits.text_chars, "user_text.text")
                spoken = settings.output.include_human_avatar
                await self._turn(TurnRequest(human, text, source="human", render_speaker=spoken), epoch)
                await self._reply(epoch)
            case HearAudio(samples=samples, sample_rate=rate):
                await self._hear(samples, rate)
            case EndUtterance(transcript=transcript):
                self._human("user_utterance_end")
                if transcript.strip():
                    transcript = check_text(transcript, self.limits.text_chars, "user_utterance_end.transcript")
                await self._end_utterance(transcript.strip())
                await self._reply(epoch)

    def _interrupted(self, epoch: int) -> bool:
        return self._interrupts != epoch or self._stop.is_set()

    def _human(self, what: str) -> str:
        human = self.session.settings.human
        if human is None:
            raise FailedPrecondition(f"{what} needs a HUMAN_AGENT session")
        return human

    async def _reply(self, epoch: int) -> None:
        """The dialogue backend's next line (the agent's, in HUMAN_AGENT): agent work an Interrupt drops."""
        if not self._interrupted(epoch):
            await self._turn(await self._run(self._dialogue_request, self.session.settings.agent), epoch)

    def _dialogue_request(self, speaker: str | None) -> TurnRequest:
        """The dialogue backend's next line (for `speaker`, else whoever's turn it is)."""
        settings = self.session.settings
        context = self.session.conversation.dialogue_context(speaker, settings.personas, settings.topic)
        line = self.session.dialogue.next_line(context)
        # The scripted dialogues' emotion hints are not used: C recognizes the line's emotion, as the paper does.
        return TurnRequest(context.next_speaker, line.text, source="scripted" if settings.backend == "scripted"
                           else "llm")  # fmt: skip

    async def _turn(self, request: TurnRequest, epoch: int) -> None:
        conversation = self.session.conversation
        if self.session.closed:
            raise NotFound(f"session {self.session.id!r} was closed")
        utterance = await self._run(conversation.prepare, request)
        if self._interrupted(epoch):  # interrupted before it began: nothing is stored, nothing is shown
            return
        plan = await self._run(conversation.commit, utterance)  # stored whole before any of its frames leave
        await self._emit(TurnStarted(plan))
        loop = asyncio.get_running_loop()
        self._anchor = max(self._anchor, loop.time() - plan.start_ms / 1000)  # an idle pause is not a backlog
        chunks = conversation.turn_chunks(plan)
        frames_done, interrupted = 0, False
        self._turn_playing = (plan, epoch)
        try:
            while True:
                # The next chunk is made once the last has gone out: an Interrupt then stops the turn within a chunk
                # of what the client has, not of what the server could make ahead of it.
                await self.outbox.drained(self._stop)
                if self._should_stop(epoch, frames_done):
                    interrupted = True
                    break
                chunk = await self._run(next, chunks, None)
                if chunk is None:
                    break
                sent = await self._send_chunk(chunk, epoch, frames_done)
                frames_done += sent
                if sent < chunk.count:  # stopped inside the chunk (a barge-in, an Interrupt, the stream ending)
                    interrupted = True
                    break
        finally:
            self._turn_playing = None
        summary = await self._run(conversation.finish_turn, plan, frames_done, interrupted)
        await self._emit(TurnEnded(summary))

    def _should_stop(self, epoch: int | None, turn_frame: int) -> bool:
        """Stop here: interrupted, the stream ending, or a barge-in's stopping point reached."""
        if epoch is not None and self._interrupted(epoch):
            return True
        return self._stop_at_frame is not None and turn_frame >= self._stop_at_frame

    async def _send_chunk(self, chunk: MediaChunk, epoch: int | None = None, turn_frame: int = 0) -> int:
        """Send the chunk's audio and frames in presentation order, paced; returns the model frames sent whole
        (fewer than the chunk's when the turn must stop inside it: before each frame's events, the stop is checked,
        so a turn stops within a frame of the decision)."""
        events = [(piece.presentation_ms, 0, AudioOut(piece)) for piece in chunk.audio]
        events += [(frame.presentation_ms, 1, FrameOut(frame)) for frame in chunk.frames]
        first_ms = chunk.first_index * 1000 // FPS
        for presentation_ms, _, event in sorted(events, key=lambda item: item[:2]):
            model_frame = (presentation_ms * FPS) // 1000 - chunk.first_index
            if epoch is not None and self._should_stop(epoch, turn_frame + model_frame):
                return max(0, min(chunk.count, (presentation_ms - first_ms) * FPS // 1000))
            if self.session.settings.output.real_time and not self._stop.is_set():
                delay = self._anchor + presentation_ms / 1000 - asyncio.get_running_loop().time()
                if delay > 0:
                    await _wait_either(asyncio.sleep(delay), self._stop.wait(), self._barged.wait())
                    if epoch is not None and self._should_stop(epoch, turn_frame + model_frame):
                        return max(0, min(chunk.count, (presentation_ms - first_ms) * FPS // 1000))
            if not await self._emit(event):
                return max(0, min(chunk.count, (presentation_ms - first_ms) * FPS // 1000))
        return chunk.count

    # ------------------------------------------------------------------ a human talking

    async def _hear(self, samples, sample_rate: int) -> None:
        conversation = self.session.conversation
        self._human("user_audio")
        if conversation.human_speech is None:
            speech = await self._run(conversation.begin_human_speech, sample_rate, self.limits.utterance_s)
            loop = asyncio.get_running_loop()
            self._anchor = max(self._anchor, loop.time() - conversation.clock_ms / 1000)
            await self._emit(HumanSpeech(conversation.rounds + 1, speech.speaker, conversation.clock_ms))
        for chunk in await self._run(conversation.hear, samples, sample_rate):
            await self._send_chunk(chunk)

    async def _end_utterance(self, transcript: str) -> None:
        conversation = self.session.conversation
        plan, tail, summary = await self._run(conversation.end_human_speech, transcript)
        for chunk in tail:
            await self._send_chunk(chunk)
        await self._emit(TurnStarted(plan))
        await self._emit(TurnEnded(summary))
