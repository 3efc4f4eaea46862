"""One conversation: its Interactive Talking Tree, the accumulated emotions Q, its persistence and its clock, and
the stages (with their per-session state) that turn its lines into media. DESIGN.md section 3.

    TurnRequest ─> RecognizeEmotion, Voice ─> Utterance                                          (prepare)
    Utterance ─> tree round + Q (incremental) ─> store (whole, retried; or taken back) ─> TurnPlan   (commit)
    TurnPlan ─> per chunk: SpeakerFaces, ListenerFaces, HeadMasks, HeadPoses,                     (turn_chunks)
                [MotionImages, Render], Encode ─> MediaChunk (audio + encoded frames)
    a human talking (HUMAN_AGENT, audio): start_human_voice, listen(frames)..., commit_human_round

Everything here is synchronous and runs in a worker thread; nothing waits on the network or a client. Every
random choice draws from the session's seed. The tree in memory always equals the stored one: a round that
cannot be stored is taken back and the error raised.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput
from eai_avatar.runtime.itt import InteractiveTalkingTree
from eai_avatar.runtime.itt.propagation import AccumulatedEmotion, IncrementalQ
from eai_avatar.runtime.pipeline.frames import (
    LISTEN,
    SPEAK,
    AudioPiece,
    AvatarChunk,
    MediaChunk,
    OutputSpec,
    TurnPlan,
    TurnRequest,
    TurnSummary,
    Utterance,
)
from eai_avatar.runtime.pipeline.models import Models
from eai_avatar.runtime.pipeline.stages import (
    Encode,
    HeadMasks,
    HeadPoses,
    ListenerFaces,
    MotionImages,
    RecognizeEmotion,
    Render,
    SpeakerFaces,
    Stage,
    Voice,
    check_text,
    frames_of,
    output_indices,
)
from eai_avatar.runtime.rig import FaceRig, MaskReference, RigParams
from eai_avatar.runtime.store.base import ConversationStore, LeaseLost, StoreUnavailable, commit_round
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import FPS, NEUTRAL, SAMPLE_RATE, SAMPLES_PER_FRAME

logger = logging.getLogger(__name__)

#: Lines of history a dialogue backend is handed (it gets the count of earlier ones): bounded, so a turn at line
#: 4,000 costs what one at line 40 does.
HISTORY_LINES = 50


@dataclass
class TurnSpeech:
    """What a turn has said so far, in model frames from its start: each stretch of voice with its text and word
    timings (or, where the voice gives none, times spread over the words by their length). It answers which
    words were said before a frame, and where the sentence a frame is in ends."""

    start: int  # the turn's first frame on the session clock
    parts: list[tuple[int, int, str, list]] = field(default_factory=list)  # (first frame, frames, text, words)

    def add(self, speech: SpeechAudio, frames: int, text: str) -> int:
        first = sum(part[1] for part in self.parts)
        self.parts.append((first, frames, text, list(speech.words)))
        return first

    def _timed_words(self) -> list[tuple[str, float, float]]:
        """(word, start frame, end frame) for every word said or to be said."""
        timed = []
        for first, frames, text, words in self.parts:
            if words:
                timed += [(w.word, first + w.start_s * FPS, first + w.end_s * FPS) for w in words]
                continue
            tokens = text.split()
            weights = np.array([len(token) + 1 for token in tokens], np.float64)
            edges = first + frames * np.concatenate([[0.0], np.cumsum(weights) / max(weights.sum(), 1.0)])
            timed += [(token, edges[i], edges[i + 1]) for i, token in enumerate(tokens)]
        return timed

    def spoken_text(self, frames_done: int) -> str:
        return " ".join(word for word, _, end in self._timed_words() if end <= frames_done + 0.5)

    def sentence_end_after(self, turn_frame: int) -> int:
        ends = [first + frames for first, frames, _, _ in self.parts]
        for word, _, end in self._timed_words():
            if re.search(r"[.!?…]$", word):
                ends.append(int(np.ceil(end)))
        later = [end for end in ends if end >= turn_frame]
        return min(later) if later else sum(part[1] for part in self.parts)


class Conversation:
    """One session: two characters, their tree and Q, the session's store, and the pipeline state of both avatars.

    Args:
        models: the shared models.
        characters: the two identity names, in session order.
        tree: the session's tree (a new one, or one rebuilt from the store after a restart).
        seed: every random choice of the session.
        voices: TTS voice per character (default: the identity's).
        output: what the session streams (size, encoding, rate, channels).
        human: in HUMAN_AGENT mode, the human's character (drawn only with `output.include_human_avatar`).
        store, session_id: where committed rounds go (None: memory only, for tools and tests).
        clock_ms: where the session's clock stands (after a restart: the stored clock).
        config: limits, chunking and store retries (default: the models').
    """

    def __init__(self, models: Models, characters: tuple[str, str], tree: InteractiveTalkingTree | None = None,
                 seed: int = 0, voices: dict[str, str] | None = None, output: OutputSpec | None = None,
                 human: str | None = None, store: ConversationStore | None = None, session_id: str = "",
                 clock_ms: int = 0, config: RuntimeConfig | None = None):  # fmt: skip
        if len(characters) != 2 or characters[0] == characters[1]:
            raise ValueError(f"a conversation has two different characters, got {characters}")
        if human is not None and human not in characters:
            raise ValueError(f"the human's character {human!r} is not one of {characters}")
        self.models, self.characters = models, tuple(characters)
        self.tree = tree or InteractiveTalkingTree(self.characters)
        self.q = IncrementalQ.of_tree(self.tree)
        self.output = output or OutputSpec()
        self.human = human
        self.store, self.session_id = store, session_id
        # The replica's hold on the session (sessions/manager.py take): every write names it, so once another replica
        # has taken the session over nothing more is written from here. None: writes are not fenced (tools, tests).
        self.lease = None
        self.config = config or models.config
        self.clock_frames = -(-clock_ms * FPS // 1000)  # the session's video clock: model frames since its start
        self.rng = np.random.default_rng(seed)
        bundle = models.bundle
        identities = {name: bundle.identity(name) for name in characters}  # KeyError naming the known identities
        self.voices = {name: (voices or {}).get(name) or identities[name].voice for name in characters}
        first_masks = {name: np.load(bundle.root / identities[name].first_mask).astype(np.float32)
                       for name in characters}  # fmt: skip
        # The stages, in a chunk's order; see pipeline/stages.
        self.recognize = RecognizeEmotion(lambda: models.recognizer)
        self.voice = Voice(lambda: models.tts, self.voices)
        self.speaker_faces = SpeakerFaces(models.expressions)
        self.head_poses = HeadPoses({name: MaskReference.from_mask(mask) for name, mask in first_masks.items()},
                                    self.rng)  # fmt: skip
        self.stages: list[Stage] = [
            self.speaker_faces,
            ListenerFaces(models.leed, self.characters, self.rng),
            HeadMasks(models.head_masks, first_masks, self.rng),
            self.head_poses,
        ]
        if self.output.include_images:
            rigs = {name: FaceRig(RigParams.load(bundle.root / identities[name].rig)) for name in characters}
            self.stages += [MotionImages(rigs, models.image_size),
                            Render(models.renderer, {n: i.renderer_index for n, i in identities.items()},
                                   self.config.chunking.render_batch)]  # fmt: skip
        self.stages.append(Encode(self.output))
        self.dialogue_lines = [node for node in self.tree if node.state.value == SPEAK]
        self._owed_frames = 0  # the human's side: frames due that the human avatar's faces were not ready for
        self.turn = TurnSpeech(self.clock_frames)  # the turn playing now (or last)

    # ------------------------------------------------------------------ the tree and its emotions

    @property
    def clock_ms(self) -> int:
        return self.clock_frames * 1000 // FPS

    @property
    def rounds(self) -> int:
        return self.tree.rounds

    def accumulated(self, node_id: int) -> AccumulatedEmotion:
        """Q(node), computed once when the node was added."""
        return self.q.get(node_id)

    def current_emotion(self, character: str) -> AccumulatedEmotion | None:
        """Q of `character`'s newest node (what its face shows now), or None before it has one."""
        return self.q.latest(character)

    def drawn(self, character: str) -> bool:
        return character != self.human or self.output.include_human_avatar

    # ------------------------------------------------------------------ planning

    def prepare(self, request: TurnRequest) -> Utterance:
        """Recognize the line's emotion and begin its voice (its first sentence, when the voice streams). Nothing
        changes yet."""
        if request.speaker not in self.characters:
            raise InvalidInput(f"{request.speaker!r} is not in this conversation ({', '.join(self.characters)})")
        text = check_text(request.text, self.config.limits.text_chars)
        started = time.perf_counter()
        recognized = self.recognize.process(request, text)
        recognized_at = time.perf_counter()
        speech, more = self.voice.stream(request, text)
        timings = {"emotion": recognized_at - started, "voice": time.perf_counter() - recognized_at}
        return Utterance(request, text, recognized, speech, frames_of(speech), more, timings)

    def commit(self, utterance: Utterance, start_frame: int | None = None) -> TurnPlan:
        """Grow the tree by the utterance's round, with Q, and store the round whole before anything is shown.

        A store that stays unavailable after its retries raises StoreUnavailable, and the round is taken back, so
        the tree in memory stays equal to the stored one."""
        request = utterance.request
        speak, listen = self.tree.add_round(request.speaker, utterance.text, utterance.recognized,
                                            source=request.source)  # fmt: skip
        speak_q, listen_q = self.q.add(speak), self.q.add(listen)
        start = self.clock_frames if start_frame is None else start_frame
        end_ms = max(start + utterance.frames, self.clock_frames) * 1000 // FPS
        if self.store is not None:
            try:
                commit_round(self.store, self.session_id, [speak, listen], end_ms, self.config.store.retries,
                             self.config.store.retry_backoff_s, lease=self.lease)  # fmt: skip
            except BaseException:
                self.q.pop()
                self.q.pop()
                self.tree.pop_round()
                raise
        self.dialogue_lines.append(speak)
        return TurnPlan(round=speak.depth, speaker=request.speaker, listener=listen.character, text=utterance.text,
                        speaker_recognized=utterance.recognized, speaker_accumulated=speak_q,
                        listener_recognized=listen.estimate, listener_accumulated=listen_q, speak_node_id=speak.id,
                        listen_node_id=listen.id, speech=utterance.speech, start_ms=start * 1000 // FPS,
                        frames=utterance.frames, more=utterance.more,
                        render_speaker=request.render_speaker and self.drawn(request.speaker))  # fmt: skip

    def plan_turn(self, request: TurnRequest) -> TurnPlan:
        """prepare, then commit: the turn's round is in the tree (and the store)."""
        return self.commit(self.prepare(request))

    def dialogue_context(self, speaker: str | None, personas: dict[str, str], topic: str):
        """What a dialogue backend writes the next line from: the recent lines, each character's Q, who speaks
        (`speaker`, else whoever did not speak last)."""
        from eai_avatar.runtime.dialogue import DialogueContext, DialogueLine

        if speaker is None:
            last = self.dialogue_lines[-1].character if self.dialogue_lines else None
            speaker = self.characters[0] if last is None else self.tree.other(last)
        recent = self.dialogue_lines[-HISTORY_LINES:]
        emotions = {name: q.label for name in self.characters if (q := self.current_emotion(name)) is not None}
        bundle = self.models.bundle
        return DialogueContext(characters=self.characters,
                               display_names={n: bundle.identity(n).display_name for n in self.characters},
                               personas=personas, topic=topic,
                               history=[DialogueLine(node.character, node.text) for node in recent],
                               emotions=emotions, next_speaker=speaker,
                               earlier_lines=len(self.dialogue_lines) - len(recent))  # fmt: skip

    # ------------------------------------------------------------------ a turn's media

    def turn_chunks(self, plan: TurnPlan) -> Iterator[MediaChunk]:
        """The turn's media, chunk by chunk: the first chunk short, so the first frame leaves early; a streamed
        line's next sentence is made when the one before has been cut into chunks. Audio leaves a frame (40 ms) at a
        time, so a turn that must stop (a barge-in) stops its voice within a frame of the decision."""
        for stage in self.stages:
            stage.begin_turn(plan)
        self.turn = TurnSpeech(plan.start_ms * FPS // 1000)
        roles = {plan.speaker: (SPEAK, plan.speaker_accumulated.label),
                 plan.listener: (LISTEN, plan.listener_accumulated.label)}  # fmt: skip
        drawn = {plan.speaker: plan.render_speaker, plan.listener: self._listener_drawn(plan.listener)}
        first, size = min(self.config.chunking.first_chunk_frames, self.config.chunking.chunk_frames), None
        for speech in itertools.chain([plan.speech], plan.more or ()):
            frames = frames_of(speech) if speech is not plan.speech else plan.frames
            padded = np.zeros(frames * SAMPLES_PER_FRAME, np.int16)
            padded[: len(speech.samples)] = speech.samples[: len(padded)]
            self.speaker_faces.add_speech(padded, frames)
            part_start = self.turn.add(speech, frames, plan.text if plan.more is None else speech.text)
            if speech is not plan.speech:  # the stored end moves with each sentence: a restart never reuses a time
                self.store_clock((self.turn.start + part_start + frames) * 1000 // FPS)
            done = 0
            while done < frames:
                size = first if size is None else self.config.chunking.chunk_frames
                count = min(size, frames - done)
                audio = []
                if plan.render_speaker and self.output.include_audio:
                    audio = [AudioPiece(plan.speaker, (self.clock_frames + k) * 1000 // FPS,
                                        padded[(done + k) * SAMPLES_PER_FRAME : (done + k + 1) * SAMPLES_PER_FRAME])
                             for k in range(count)]  # fmt: skip
                yield self._chunk(count, roles, drawn, audio)
                done += count

    def sentence_end_after(self, turn_frame: int) -> int:
        """The turn's first sentence end (in model frames from the turn's start) at or after `turn_frame`."""
        return self.turn.sentence_end_after(turn_frame)

    def finish_turn(self, plan: TurnPlan, frames_done: int, interrupted: bool) -> TurnSummary:
        """The turn is over after `frames_done` model frames (the clock goes back to there if more were made); an
        interrupted turn's speak node keeps the words said before it stopped, in the tree and the store, with the
        clock in the same write."""
        start = plan.start_ms * FPS // 1000
        self.clock_frames = start + frames_done
        spoken = ""
        if interrupted:
            spoken = self.turn.spoken_text(frames_done)
            self.tree.mark_interrupted(plan.speak_node_id, spoken)
            if self.store is not None:
                try:
                    self.store.mark_interrupted(self.session_id, plan.speak_node_id, spoken, self.clock_ms,
                                                lease=self.lease)  # fmt: skip
                except (StoreUnavailable, LeaseLost, LookupError, ValueError) as exc:
                    logger.warning("could not store the interruption of node %d: %s", plan.speak_node_id, exc)
        else:
            self.store_clock()
        drawn = plan.render_speaker or self._listener_drawn(plan.listener)
        return replace(self._summary(plan.round, start, frames_done, interrupted, drawn), spoken_text=spoken)

    def store_clock(self, clock_ms: int | None = None) -> None:
        """Store where the clock stands (or will stand: `clock_ms`). A store that fails here costs nothing: the
        stored clock (a turn's planned end) is then ahead of the real one, and the clock only ever moves on. A lease
        lost to another replica costs nothing here either: the stream ends at its next renewal or commit."""
        if self.store is None:
            return
        try:
            self.store.set_clock(self.session_id, self.clock_ms if clock_ms is None else clock_ms, lease=self.lease)
        except (StoreUnavailable, LeaseLost, LookupError) as exc:
            logger.warning("could not store the clock of session %s: %s", self.session_id, exc)

    def _listener_drawn(self, listener: str) -> bool:
        return self.drawn(listener) and self.output.include_listener_frames

    def _summary(self, round_: int, first_frame: int, frames_done: int, interrupted: bool,
                 drawn: bool = True) -> TurnSummary:  # fmt: skip
        fps = self.output.fps
        shown = output_indices(first_frame + frames_done, fps).start - output_indices(first_frame, fps).start
        return TurnSummary(round_, shown if drawn else 0, frames_done * 1000 // FPS, interrupted)

    def _chunk(self, count: int, roles: dict[str, tuple[str, str]], drawn: dict[str, bool],
               audio: list[AudioPiece]) -> MediaChunk:  # fmt: skip
        avatars = [AvatarChunk(name, *roles[name], self.clock_frames, count, drawn.get(name, True))
                   for name in self.characters if name in roles]  # fmt: skip
        chunk = MediaChunk(self.clock_frames, count, avatars, audio)
        for stage in self.stages:
            stage.process(chunk)
        self.clock_frames += count
        return chunk

    # ------------------------------------------------------------------ a human talking (HUMAN_AGENT, audio)

    def start_human_voice(self) -> None:
        """The human starts an utterance: their avatar (when drawn) follows their live voice from here on."""
        if self.human is None:
            raise FailedPrecondition("user audio needs a HUMAN_AGENT session")
        if self.drawn(self.human):
            q = self.current_emotion(self.human)
            self.speaker_faces.listen_live(self.human, q.scores if q else NEUTRAL)

    def listen(self, frames: int, speaking: bool, samples: np.ndarray | None = None, final: bool = False,
               nod: bool = False) -> list[MediaChunk]:  # fmt: skip
        """The human's side for `frames` more model frames: the agent listening (nodding now if `nod`: a pause in
        the human's words) and, when drawn, the human's avatar, speaking from its live voice (`samples`, 16 kHz,
        through streaming Audio2Exp) or waiting. The avatar's faces lag the voice by Audio2Exp's receptive field, so
        frames it cannot have yet are owed and made with later calls (`final` makes all of them)."""
        if self.human is None:
            raise FailedPrecondition("user audio needs a HUMAN_AGENT session")
        agent = self.tree.other(self.human)
        if nod:
            self.head_poses.nod(agent)
        self._owed_frames += frames
        count = self._owed_frames
        human_drawn = self.drawn(self.human)
        if human_drawn and speaking:
            ready = self.speaker_faces.feed(samples if samples is not None else np.zeros(0, np.int16), final=final)
            count = min(count, ready) if not final else count
        if count <= 0:
            return []
        self._owed_frames -= count
        agent_q, human_q = self.current_emotion(agent), self.current_emotion(self.human)
        roles = {agent: (LISTEN, agent_q.label if agent_q else NEUTRAL)}
        drawn = {agent: self._listener_drawn(agent), self.human: human_drawn}
        if human_drawn:
            roles[self.human] = (SPEAK if speaking else LISTEN, human_q.label if human_q else NEUTRAL)
        chunks, chunk_frames = [], self.config.chunking.chunk_frames
        while count > 0:
            size = min(count, chunk_frames)
            chunks.append(self._chunk(size, roles, drawn, []))
            count -= size
        return chunks

    def commit_human_round(self, transcript: str, samples: np.ndarray, start_frame: int,
                           frames: int) -> tuple[TurnPlan, TurnSummary]:  # fmt: skip
        """A human's utterance enters the tree: its words are `transcript` (or unknown), its voice `samples` (16 kHz),
        its round starts at `start_frame` on the clock and lasted `frames` (shown already)."""
        if len(samples) < SAMPLES_PER_FRAME:
            samples = np.concatenate([samples, np.zeros(SAMPLES_PER_FRAME - len(samples), np.int16)])
        request = TurnRequest(self.human, transcript or "(inaudible)", SpeechAudio(samples, SAMPLE_RATE),
                              source="human", render_speaker=False, transcript_known=bool(transcript))  # fmt: skip
        utterance = self.prepare(request)
        utterance = Utterance(request, utterance.text, utterance.recognized, utterance.speech, frames)
        plan = self.commit(utterance, start_frame=start_frame)
        drawn = self.drawn(self.human) or self._listener_drawn(plan.listener)
        return plan, self._summary(plan.round, start_frame, frames, False, drawn)
