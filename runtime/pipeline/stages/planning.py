"""The planning stages: what a line means (emotion) and how it sounds (voice), before its round enters the tree."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator

from eai_avatar.runtime.audio.pcm import to_model_rate
from eai_avatar.runtime.errors import InvalidInput, LimitExceeded
from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.pipeline.frames import TurnRequest
from eai_avatar.runtime.tts.base import SpeechAudio
from eai_avatar.vocabulary import EMOTIONS, MAX_TEXT_CHARS, NEUTRAL, SAMPLE_RATE, SAMPLES_PER_FRAME

#: Confidence of the stand-in emotion of a line whose words are not known (a voice line with no transcript):
#: low, so the conversation's accumulated emotion (Q) carries the face, not a guess.
UNKNOWN_WORDS_CONFIDENCE = 0.3


def check_text(text: object, limit: int = MAX_TEXT_CHARS, what: str = "text") -> str:
    """The stripped text, or InvalidInput (empty, NUL) / LimitExceeded (too long) naming `what`."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"{what} is empty")
    if len(text) > limit:
        raise LimitExceeded(f"{what} must be at most {limit} characters, got {len(text)}")
    if "\x00" in text:
        raise InvalidInput(f"{what} must not contain NUL characters")
    return text.strip()


class RecognizeEmotion:
    """TurnRequest -> the speaker's recognized emotion (the paper's C, eqs. 8-9).

    An override is taken as certain. A line whose words are unknown (audio without a transcript) gets a
    low-confidence neutral: the text it carries is a placeholder, and C on "(voice line)" said "fear" every time.
    """

    name = "recognize"

    def __init__(self, recognizer_factory):
        self._factory = recognizer_factory  # the recognizer loads on first use (MiniLM: 130 MB)

    def process(self, request: TurnRequest, text: str) -> EmotionEstimate:
        if request.emotion_override:
            if request.emotion_override not in EMOTIONS:
                raise InvalidInput(f"emotion_override {request.emotion_override!r} is not one of {', '.join(EMOTIONS)}")
            return EmotionEstimate.certain(request.emotion_override)
        if not request.transcript_known:
            return EmotionEstimate.certain(NEUTRAL, UNKNOWN_WORDS_CONFIDENCE)
        return self._factory().recognize(text)


class Voice:
    """TurnRequest -> its speech at 16 kHz: the game's (or human's) own audio, else the speaker's TTS voice.

    `stream` gives the first sentence and an iterator over the rest, so a turn starts once its first sentence is
    made (a voice that cannot stream gives the whole line first and nothing after)."""

    name = "voice"

    def __init__(self, tts_factory, voices: dict[str, str]):
        self._factory, self.voices = tts_factory, voices

    def stream(self, request: TurnRequest, text: str) -> tuple[SpeechAudio, Iterator[SpeechAudio] | None]:
        if request.audio is not None:
            return self.process(request, text), None
        tts = self._factory()
        voice = self.voices[request.speaker]
        if not hasattr(tts, "stream"):
            return tts.synthesize(text, voice), None
        # The turn starts when its first piece is voiced: a first sentence with a clause ("Oh, that is lovely.") is
        # voiced clause first, so the answer starts sooner (a neural voice takes ~50 ms per second of speech here).
        opening, rest = split_first_clause(text)
        parts = itertools.chain(tts.stream(opening, voice), tts.stream(rest, voice) if rest else ())
        first = next(parts, None)
        if first is None:
            raise InvalidInput(f"the voice made no audio for {text!r}")
        return first, parts

    def process(self, request: TurnRequest, text: str) -> SpeechAudio:
        if request.audio is None:
            return self._factory().synthesize(text, self.voices[request.speaker])
        audio = request.audio
        samples = to_model_rate(audio.samples, audio.sample_rate)
        if len(samples) < SAMPLES_PER_FRAME:
            raise InvalidInput(f"a turn's audio must last at least one frame (40 ms), got {len(samples)} samples")
        return SpeechAudio(samples, SAMPLE_RATE, phonemes=audio.phonemes, words=audio.words, text=text)


def split_first_clause(text: str) -> tuple[str, str]:
    """(the first clause, the rest) when the first sentence has a clause of two words or more before a comma,
    semicolon or dash; else (text, "")."""
    match = re.search(r"[,;:\u2014]\s+\S", text)
    if match is None:
        return text, ""
    opening, rest = text[: match.start() + 1], text[match.end() - 1 :]
    if len(opening.split()) < 2 or re.search(r"[.!?]", opening):
        return text, ""
    return opening, rest


def frames_of(speech: SpeechAudio) -> int:
    """Video frames that cover `speech` (16 kHz): its audio rounded up to whole frames, at least one."""
    return max(1, math.ceil(len(speech.samples) / SAMPLES_PER_FRAME))
