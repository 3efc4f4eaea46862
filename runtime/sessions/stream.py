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

`stop(reason)` (a second attach, CloseSession, the server stopping, another replica taking the session over) ends
the producer at the next chunk; the stream then ends with StreamEnded(reason), even when its client is not reading.
An Interrupt stops the turn in progress at the next chunk and drops queued agent work; a bad command becomes a
Notice and the stream goes on. A turn that fails after it began (a model server gone mid-turn) is closed as an
interrupted one where its media stopped: its Notice, then its TurnEnded, so a client sees every turn it saw start
end. With a `LeaseKeeper` the stream renews its replica's lease on the session while it runs and lets go at its
end.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

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
from eai_avatar.runtime.sessions.leases import LeaseKeeper
from eai_avatar.runtime.sessions.listening import HumanListener, Listen, SpeechEnded, SpeechStarted
from eai_avatar.runtime.sessions.manager import Session
from eai_avatar.runtime.store.base import LeaseLost
from eai_avatar.vocabulary import FPS

logger = logging.getLogger(__name__)

#: Speech recognition runs here, one utterance at a time, beside the model workers (it must not hold up frames).
_RECOGNIZER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eai-avatar-asr")

#: Errors that are the client's or the moment's, reported as a WARNING Notice; anything else is a failed turn.
EXPECTED = (InvalidInput, NotFound, FailedPrecondition, Unavailable, ValueError, KeyError)


class TurnBroken(Exception):
    """A turn that failed after its TurnStarted went out (its media could not be made: a model server gone
    mid-turn), already closed as interrupted where its media stopped. `cause` is reported first, then `ended`."""

    def __init__(self, cause: Exception, ended: TurnEnded):
        super().__init__(str(cause))
        self.cause, self.ended = cause, ended


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
        lease: keeps this replica's lease on the session while the stream runs (None: no lease, one server alone).
    """

    def __init__(self, session: Session, commands: AsyncIterator[Command], limits: Limits, executor=None,
                 mirrors: Iterable[Callable[[str, Event], None]] = (), lease: LeaseKeeper | None = None):  # fmt: skip
        self.session, self.commands, self.limits, self.executor = session, commands, limits, executor
        self.mirrors = list(mirrors)
        self.lease = lease
        self._keeping: asyncio.Task | None = None
        self.queue = CommandQueue(limits.queued_events)
        self.outbox = Outbox(limits.outbox_events)
        self._stop = asyncio.Event()
        self._stop_reason = ""
        self._interrupts = 0  # counts Interrupts; a turn stops when it changes under it
        self._anchor = 0.0  # loop time of presentation time 0, for real-time pacing
        self._producer: asyncio.Task | None = None
        self._turn_playing: tuple | None = None  # (plan, epoch) of the turn being sent
        self._stop_at_frame: int | None = None  # a barge-in's stopping point in the playing turn
        self._turn_frame = 0  # model frames of the playing turn sent so far
        self._busy = False  # the producer is making or playing a turn
        self._barged = asyncio.Event()  # wakes a paced send when a barge-in decides
        # The human's microphone (HUMAN_AGENT): it exists from the start, so it holds every piece of the agent's
        # voice sent (what an echo of it must be compared with) before the first audio arrives.
        self.listener: HumanListener | None = None
        if session.settings.human is not None:
            hearing = session.settings.hearing
            self.listener = HumanListener(hearing.recognize_speech, hearing.end_of_speech_ms, limits.utterance_s)
        self._utterance: tuple[int, int] | None = None  # an open utterance: (first frame on the clock, frames shown)
        self._partial: asyncio.Task | None = None  # a partial transcript being made
        self._speculation: tuple[int, asyncio.Future] | None = None  # (samples, transcript) begun at a quiet
        self.barge_ins: list[float] = []  # loop times of the barge-ins decided (for measuring)
        # Per human utterance answered: loop times of each step from its end to the reply's first frame, and the
        # seconds of the planning stages (`eai-avatar bench conversation` reads them).
        self.latencies: list[dict] = []
        self._latency: dict | None = None
        self.recognizer_executor = _RECOGNIZER

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
        if self.lease is not None:
            self._keeping = asyncio.create_task(self.lease.keep(self.stop))
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
                    case HearAudio() | EndUtterance():
                        await self._hear(number, command)
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
                if self._utterance is not None:  # an utterance left open: its frames were shown, keep the clock
                    await self._run(conversation.store_clock)
        await self._let_go_of_the_lease()
        self.outbox.put_urgent(StreamEnded(self._stop_reason or "client ended"))

    async def _let_go_of_the_lease(self) -> None:
        """After the last write: stop renewing, and let go unless a newer stream here drives the session now (it
        carries the same hold on)."""
        if self._keeping is not None:
            self._keeping.cancel()
            await asyncio.gather(self._keeping, return_exceptions=True)
        if self.lease is not None and self.session.stream in (None, self):
            await asyncio.get_running_loop().run_in_executor(None, self.lease.release)

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
            self._busy = not isinstance(command, Listen | SpeechStarted)
            try:
                await self._execute(command, epoch)
            except TurnBroken as broken:  # the client hears why, then sees the started turn end
                await self._report(broken.cause, number)
                await self._emit(broken.ended)
            except Exception as error:  # a failing backend (TTS, an LLM endpoint) must not end the session
                await self._report(error, number)
            finally:
                self._busy = False

    async def _report(self, error: Exception, number: int) -> None:
        """A command that failed, as a Notice answering client event `number`; a lost lease also ends the stream
        (another replica drives the session now: nothing more is done from here)."""
        if isinstance(error, LeaseLost):
            await self._notice("warning", str(error), error, number)
            self.stop(f"attached elsewhere: replica {error.holder!r} took this session over")
        elif isinstance(error, EXPECTED):
            await self._notice("warning", str(error), error, number)
        else:
            logger.error("a turn failed in session %s", self.session.id, exc_info=error)
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
        if isinstance(command, Listen | SpeechStarted | SpeechEnded):
            await self._heard(command, epoch)
            return
        if self._utterance is not None:
            raise FailedPrecondition("the human is speaking (an audio utterance is open): other turns wait until it "
                                     "ends (its silence, or user_utterance_end)")  # fmt: skip
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
            request = await self._run(self._dialogue_request, self.session.settings.agent)
            self._mark("line")
            await self._turn(request, epoch)

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
        self._mark("voiced")
        self._mark("emotion_s", utterance.timings.get("emotion"))
        self._mark("voice_s", utterance.timings.get("voice"))
        if self._interrupted(epoch):  # interrupted before it began: nothing is stored, nothing is shown
            return
        plan = await self._run(conversation.commit, utterance)  # stored whole before any of its frames leave
        await self._emit(TurnStarted(plan))
        loop = asyncio.get_running_loop()
        self._anchor = max(self._anchor, loop.time() - plan.start_ms / 1000)  # an idle pause is not a backlog
        chunks = conversation.turn_chunks(plan)
        frames_done, interrupted, fault = 0, False, None
        self._turn_playing, self._stop_at_frame, self._turn_frame = (plan, epoch), None, 0
        self._barged.clear()
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
        except Exception as error:  # its media cannot be made (EngineUnavailable): the turn ends where it stopped
            fault, interrupted = error, True
        finally:
            self._turn_playing = None
        summary = await self._run(conversation.finish_turn, plan, frames_done, interrupted)
        if fault is not None:
            raise TurnBroken(fault, TurnEnded(summary)) from fault
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
            if epoch is not None:
                self._turn_frame = turn_frame + model_frame
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
            if isinstance(event, AudioOut) and self.listener is not None:  # what the microphone may hear back
                self.listener.echo.add_reference(event.piece.samples, event.piece.presentation_ms)
            if self._latency is not None and "voiced" in self._latency and isinstance(event, FrameOut):
                self._mark("first_frame")
                self.latencies.append(self._latency)
                self._latency = None
        return chunk.count

    # ------------------------------------------------------------------ a human talking

    async def _hear(self, number: int, command: HearAudio | EndUtterance) -> None:
        """Microphone audio, heard at once, whatever the session is doing: its frames and utterance boundaries go
        to the producer in order; speech that starts while the agent speaks is a barge-in, acted on now."""
        try:
            human = self._human("user_audio" if isinstance(command, HearAudio) else "user_utterance_end")
            listener = self._listener(human)
            # The agent is busy (making or playing a turn): the microphone's frames are the turn's time, so none are
            # made for it (and none pile up in the queue, where they would hold up reading, and barge-in with it).
            playing = self._turn_playing is not None or self._busy
            if isinstance(command, HearAudio):
                actions = listener.hear(command.samples, command.sample_rate, playing, command.contains_playback,
                                        command.captured_at_ms or self._now_ms())  # fmt: skip
            else:
                words = command.transcript.strip()
                if words:
                    words = check_text(words, self.limits.text_chars, "user_utterance_end.transcript")
                actions = listener.end(words or None)
        except EXPECTED as error:
            await self.outbox.put(Notice("warning", str(error), error, number), self._stop)
            return
        for action in actions:
            if isinstance(action, SpeechStarted) and playing:
                self._barge_in()
            if isinstance(action, SpeechEnded):
                self._latency = {"ended": asyncio.get_running_loop().time(), "reason": action.reason}
            await self.queue.put(number, action)
        recognizer = self._recognizer()
        if recognizer is not None and listener.open:
            if listener.wants_speculation():
                audio = listener.utterance_audio()
                listener.speculation_taken()
                listener.partial_taken()
                if self._speculation is not None:  # the words since make it stale: if it waits still, never run it
                    self._speculation[1].cancel()
                future = asyncio.get_running_loop().run_in_executor(self.recognizer_executor, recognizer.transcribe,
                                                                    audio)  # fmt: skip
                self._speculation = (len(audio), future)
                # If the human goes on, what was said up to the pause is a partial transcript, at no extra cost.
                future.add_done_callback(lambda done: self._speculated(done))
            elif listener.wants_partial() and self._partial is None:
                listener.partial_taken()
                self._partial = asyncio.create_task(self._partial_transcript(listener.utterance_audio()))

    def _listener(self, human: str) -> HumanListener:
        return self.listener

    def _now_ms(self) -> int:
        """The session's clock now, as a client playing in real time would see it (for audio without a capture
        time)."""
        return max(0, round((asyncio.get_running_loop().time() - self._anchor) * 1000))

    def _recognizer(self):
        """The speech recognizer, if this session recognizes speech and the server has one."""
        if not self.session.settings.hearing.recognize_speech:
            return None
        return self.session.conversation.models.speech_recognizer

    def _barge_in(self) -> None:
        """The human started talking while the agent speaks: stop (now, or at the end of the sentence), as the
        session's barge-in policy says. Queued agent work is dropped either way, except when it is ignored."""
        policy = self.session.settings.hearing.barge_in
        if policy == "ignore" or (self._turn_playing is None and not self._busy):
            return
        self.barge_ins.append(asyncio.get_running_loop().time())
        self.queue.drop(DROPPED_BY_INTERRUPT)
        if policy == "finish_sentence" and self._turn_playing is not None:
            self._stop_at_frame = self.session.conversation.sentence_end_after(self._turn_frame)
        else:  # stop, or a reply not begun yet: it will not begin
            self._interrupts += 1
        self._barged.set()

    def _speculated(self, done: asyncio.Future) -> None:
        """A transcription begun at a pause finished: while the utterance goes on, send it as a partial transcript."""
        if done.cancelled() or done.exception() is not None or self._utterance is None or not done.result().text:
            return
        if self._speculation is not None and self._speculation[1] is done and self.listener.open:
            start_frame, _ = self._utterance
            event = HumanSpeech(self.session.conversation.rounds + 1, self.session.settings.human,
                                start_frame * 1000 // FPS, done.result().text)  # fmt: skip
            asyncio.ensure_future(self._emit(event))

    async def _partial_transcript(self, audio) -> None:
        """What is known of the words so far, sent as `human_speech` again while the human talks."""
        try:
            transcript = await asyncio.get_running_loop().run_in_executor(
                self.recognizer_executor, self._recognizer().transcribe, audio)  # fmt: skip
            if self._utterance is not None and transcript.text:
                start_frame, _ = self._utterance
                conversation = self.session.conversation
                await self._emit(HumanSpeech(conversation.rounds + 1, self.session.settings.human,
                                             start_frame * 1000 // FPS, transcript.text))  # fmt: skip
        except Exception as error:  # a partial transcript is a courtesy: failing it must not end anything
            logger.warning("partial transcript failed in session %s: %s", self.session.id, error)
        finally:
            self._partial = None

    async def _heard(self, action, epoch: int) -> None:
        """The producer's side of the microphone: frames, the start and the end of an utterance."""
        conversation = self.session.conversation
        match action:
            case SpeechStarted():
                await self._run(conversation.start_human_voice)
                self._utterance = (conversation.clock_frames, 0)
                loop = asyncio.get_running_loop()
                self._anchor = max(self._anchor, loop.time() - conversation.clock_ms / 1000)
                await self._emit(HumanSpeech(conversation.rounds + 1, self.session.settings.human,
                                             conversation.clock_ms))  # fmt: skip
            case Listen(frames=frames, speaking=speaking, samples=samples, nod=nod):
                chunks = await self._run(conversation.listen, frames, speaking, samples, False, nod)
                made = sum(chunk.count for chunk in chunks)
                if speaking and self._utterance is not None:
                    start, shown = self._utterance
                    self._utterance = (start, shown + made)
                for chunk in chunks:
                    await self._send_chunk(chunk)
            case SpeechEnded(samples=samples, transcript=transcript):
                start, shown = self._utterance or (conversation.clock_frames, 0)
                tail = await self._run(conversation.listen, 0, True, None, True)
                shown += sum(chunk.count for chunk in tail)
                for chunk in tail:
                    await self._send_chunk(chunk)
                self._utterance = None
                self._mark("tail")
                if transcript is None:
                    transcript = await self._final_transcript(samples, action.speculated_samples)
                self._mark("recognized")
                plan, summary = await self._run(conversation.commit_human_round, transcript, samples, start, shown)
                self._mark("stored")
                await self._emit(TurnStarted(plan))
                await self._emit(TurnEnded(summary))
                await self._reply(epoch)

    def _mark(self, step: str, value: float | None = None) -> None:
        if self._latency is not None and step not in self._latency:
            self._latency[step] = asyncio.get_running_loop().time() if value is None else value

    async def _final_transcript(self, samples, speculated_samples: int = -1) -> str:
        """The utterance's words: the transcription begun when the human fell quiet, if nothing was said after it
        began (the utterance's audio ends where its silence began, or only quiet came after it: push-to-talk
        released during the pause), else a transcription of the whole."""
        recognizer = self._recognizer()
        speculation, self._speculation = self._speculation, None
        if recognizer is None or len(samples) == 0:
            return ""
        if speculation is not None and (speculation[0] >= len(samples) or speculation[0] == speculated_samples):
            transcript = await speculation[1]
            self._mark("speculated", 1.0)
        else:
            self._mark("speculated", 0.0 if speculation is None else -speculation[0] / len(samples))
            transcript = await asyncio.get_running_loop().run_in_executor(self.recognizer_executor,
                                                                          recognizer.transcribe, samples)  # fmt: skip
        return transcript.text.strip()[: self.limits.text_chars]
