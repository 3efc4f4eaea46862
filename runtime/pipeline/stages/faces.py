"""The face stages: what each avatar's face does, as ARKit blendshapes (Audio2Exp for a speaker, LEED for a
listener)."""

from __future__ import annotations

import numpy as np

from eai_avatar.runtime.models.audio2exp import ExpressionGenerator, ExpressionStream, emotion_vector
from eai_avatar.runtime.models.leed import ListenerExpressionStream, ListeningDictionary
from eai_avatar.runtime.pipeline.frames import LISTEN, SPEAK, MediaChunk, TurnPlan
from eai_avatar.runtime.pipeline.stages.base import Stage
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, NEUTRAL, SAMPLE_RATE, SAMPLES_PER_FRAME


class SpeakerFaces(Stage):
    """Fills `blendshapes` of the speaking avatar.

    In a turn: Audio2Exp on the whole utterance at once, conditioned on Q of the speak node (0.8 ms per second of
    audio; its streaming form would only add latency for audio that is already whole). While a human talks with an
    avatar of their own: Audio2Exp streamed over their audio as it arrives (`listen_live`, `feed`), which gives a
    frame once its receptive field (0.72 s) has arrived.
    """

    name = "speaker faces"

    def __init__(self, expressions: ExpressionGenerator):
        self.expressions = expressions
        self._speaker: str | None = None
        self._faces = np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)  # frames made, not yet taken
        self._live: ExpressionStream | None = None

    def begin_turn(self, plan: TurnPlan) -> None:
        self._speaker, self._live = plan.speaker, None
        self._emotion = emotion_vector(plan.speaker_accumulated.scores)
        self._faces = np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)

    def add_speech(self, samples: np.ndarray, frames: int) -> None:
        """The turn's next stretch of voice (the whole line, or its next sentence): its faces follow the ones made."""
        padded = np.zeros(frames * SAMPLES_PER_FRAME, np.int16)
        padded[: len(samples)] = samples[: len(padded)]
        self._faces = np.concatenate([self._faces, self.expressions.whole(padded, SAMPLE_RATE, self._emotion)])

    def listen_live(self, speaker: str, emotion: dict[str, float] | str = NEUTRAL) -> None:
        """A human (`speaker`) starts talking; their audio follows through `feed`."""
        self._speaker, self._faces = speaker, np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)
        self._live = self.expressions.stream(emotion_vector(emotion))

    def feed(self, samples: np.ndarray, final: bool = False) -> int:
        """16 kHz samples of the live speaker; returns the frames ready to be taken (all of them when `final`)."""
        if self._live is None:
            raise ValueError("feed() needs listen_live() first")
        made = [self._live.push(samples)] if len(samples) else []
        if final:
            made.append(self._live.finish())
            self._live = None
        if made:
            self._faces = np.concatenate([self._faces, *made])
        return len(self._faces)

    @property
    def ready(self) -> int:
        return len(self._faces)

    def process(self, chunk: MediaChunk) -> None:
        for avatar in chunk.avatars:
            if avatar.role != SPEAK or avatar.avatar != self._speaker or avatar.blendshapes is not None:
                continue
            taken = self._faces[: avatar.count]
            if len(taken) < avatar.count:  # past the end of the voice: the mouth rests
                rest = np.zeros((avatar.count - len(taken), len(ARKIT_BLENDSHAPES)), np.float32)
                taken = np.concatenate([taken, rest])
            avatar.blendshapes = np.asarray(taken, np.float32)
            self._faces = self._faces[avatar.count :]


class ListenerFaces(Stage):
    """Fills `blendshapes` of every listening avatar from LEED: its own loop at its accumulated emotion, blended
    when the emotion changes; the loop plays on across turns, so chunking never changes a face."""

    name = "listener faces"

    def __init__(self, leed: ListeningDictionary, characters: tuple[str, ...], rng: np.random.Generator):
        self._streams = {name: ListenerExpressionStream(leed, name, NEUTRAL, rng) for name in characters}

    def process(self, chunk: MediaChunk) -> None:
        for avatar in chunk.avatars:
            if avatar.role == LISTEN and avatar.blendshapes is None:
                stream = self._streams[avatar.avatar]
                stream.set_emotion(avatar.emotion)
                avatar.blendshapes = stream.next(avatar.count)
