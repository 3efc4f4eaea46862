"""The human's microphone in a HUMAN_AGENT session, heard as it arrives (proto: UserAudioChunk).

`HumanListener.hear` runs on the event loop for every audio chunk, whatever the session is doing (it is cheap:
resampling, echo removal, voice activity), and turns the audio into what the session must do, in order:

    Listen(frames, speaking)   make the frames this audio covers: the agent listening (and the human's avatar)
    SpeechStarted()            an utterance begins (voice activity found its onset, or the first chunk without it)
    SpeechEnded(audio, words)  it ended (the silence after it, or UserUtteranceEnd): recognize, store, reply

While the agent speaks, audio makes no frames (the agent's turn covers that time): its frames are skipped, and an
onset in it is a barge-in the stream acts on at once. Frames lag the audio by `FRAME_LAG_MS` with voice activity
detection, so that an onset usually falls on the frame where it happened rather than behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from eai_avatar.runtime.audio.echo import EchoCanceller
from eai_avatar.runtime.audio.pcm import PcmStream
from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput, LimitExceeded
from eai_avatar.vocabulary import FPS, SAMPLE_RATE

#: Frames wait this long behind the audio when voice activity decides where utterances start.
FRAME_LAG_MS = 160
#: Audio kept before an onset, for the recognizer (voice activity walks back over the first syllable).
HISTORY_S = 1.0
#: A pause in the human's words this long, inside an utterance, gets a listener's nod.
PAUSE_NOD_MS = 300
#: Speech without a pause this long gets a partial transcript (a pause gets one anyway: see SPECULATE_AFTER_MS).
#: Long, because the recognizer does one thing at a time: a partial still running when the utterance ends delays
#: its final words by its length.
PARTIAL_EVERY_S = 3.0
#: Quiet after speech this long, and the words so far are transcribed at once, in case the utterance has ended: by
#: the time the silence that ends it has passed, its words are known (the endpoint and the recognizer overlap).
#: Not shorter: gaps of 100-150 ms inside a phrase are common, and each would cost a transcription.
SPECULATE_AFTER_MS = 150


@dataclass(frozen=True)
class Listen:
    frames: int
    speaking: bool
    samples: np.ndarray  # the 16 kHz audio these frames cover (the human avatar's voice)
    nod: bool = False


@dataclass(frozen=True)
class SpeechStarted:
    pass


@dataclass(frozen=True)
class SpeechEnded:
    samples: np.ndarray  # the utterance, 16 kHz, from its onset
    transcript: str | None = None  # the client's words; None: recognize them
    reason: str = "silence"  # "silence" (voice activity), "client" (UserUtteranceEnd), "limit" (too long)
    #: The utterance's samples the last transcription begun at a pause covered, if nothing but quiet came after
    #: them (so its words are the utterance's); -1: none did.
    speculated_samples: int = -1


Action = Listen | SpeechStarted | SpeechEnded


@dataclass
class _Utterance:
    onset: int = 0  # its first sample in the microphone stream
    audio: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    unfed: list[np.ndarray] = field(default_factory=list)  # audio not yet handed to the human's avatar
    partial_at: int = 0  # samples when the last partial transcript was asked for
    speculated_at: int = -1  # samples when the words were last transcribed in case the utterance had ended
    speculated_loud: int = -1  # the voice activity's loud frames then (more since: that transcription is stale)
    nodded_loud: int = -1  # the loud frames when the agent last nodded (one nod per pause)


class HumanListener:
    """Args:
    detect_speech: voice activity decides where utterances start and end (else the first chunk starts one and
        only UserUtteranceEnd ends it).
    end_of_speech_ms: the silence that ends an utterance.
    limit_s: the longest utterance (voice activity ends it there; without it, the chunk is refused).
    """

    def __init__(self, detect_speech: bool, end_of_speech_ms: int = 500, limit_s: float = 60.0):
        self.detect_speech, self.end_of_speech_ms, self.limit_s = detect_speech, end_of_speech_ms, limit_s
        self.echo = EchoCanceller()
        self.utterance: _Utterance | None = None
        self._stream: PcmStream | None = None
        self._vad = None
        self._history = np.zeros(0, np.int16)  # recent clean audio, ending at sample `_heard`
        self._heard = 0  # 16 kHz samples of this microphone stream
        self._frames_done = 0  # frames of this stream made or skipped
        self._ended_by_silence = False  # voice activity ended an utterance since the client's last end

    @property
    def open(self) -> bool:
        return self.utterance is not None

    def utterance_audio(self) -> np.ndarray:
        if self.utterance is None or not self.utterance.audio:
            return np.zeros(0, np.int16)
        return np.concatenate(self.utterance.audio)

    def wants_partial(self) -> bool:
        """Enough new words may have come since the last partial transcript."""
        u = self.utterance
        return u is not None and u.samples - u.partial_at >= PARTIAL_EVERY_S * SAMPLE_RATE

    def partial_taken(self) -> None:
        if self.utterance is not None:
            self.utterance.partial_at = self.utterance.samples

    def wants_speculation(self) -> bool:
        """The human has been quiet a moment: transcribe what they said now, in case they have finished."""
        u, vad = self.utterance, self._vad
        return (u is not None and vad is not None and vad.quiet_ms >= SPECULATE_AFTER_MS
                and u.speculated_loud != vad.loud_frames)  # fmt: skip

    def speculation_taken(self) -> int:
        """Record that the words so far are being transcribed; returns how many samples of the utterance that is."""
        self.utterance.speculated_at = self.utterance.samples
        self.utterance.speculated_loud = self._vad.loud_frames if self._vad is not None else -1
        return self.utterance.samples

    # ------------------------------------------------------------------ hearing

    def hear(self, samples: np.ndarray, sample_rate: int, agent_speaking: bool, contains_playback: bool = False,
             captured_at_ms: int = 0) -> list[Action]:  # fmt: skip
        """A chunk of the microphone (int16 at `sample_rate`) -> what to do, in order."""
        self._check_rate(sample_rate)
        clean = self._stream.push(samples)
        if contains_playback:
            clean = self.echo.process(clean, captured_at_ms)
        return self._take(clean, agent_speaking, final=False)

    def end(self, transcript: str | None) -> list[Action]:
        """UserUtteranceEnd: the utterance ends now. If voice activity already ended one since the client's last
        end (its silence came first: push-to-talk released after a pause), this end is that one's and does nothing;
        otherwise the audio since the last end is an utterance, whatever voice activity made of it."""
        actions: list[Action] = []
        ended_by_silence, self._ended_by_silence = self._ended_by_silence, False
        if self.utterance is None:
            if self._stream is None:
                raise FailedPrecondition("user_utterance_end without user_audio before it")
            if ended_by_silence:
                return []
            self.utterance = _Utterance(onset=self._heard)
            actions.append(SpeechStarted())
        tail = self._stream.finish()
        actions += self._take(tail, agent_speaking=False, final=True)
        actions.append(self._ended(transcript, "client"))
        self._stream = None  # a new stream (and rate) may follow
        return actions

    def _check_rate(self, sample_rate: int) -> None:
        if self._stream is not None and sample_rate == self._stream.sample_rate:
            return
        if self.utterance is not None:
            raise InvalidInput(f"user audio changed its sample rate within an utterance ({self._stream.sample_rate} "
                               f"-> {sample_rate} Hz); end the utterance first")  # fmt: skip
        self._stream = PcmStream(sample_rate)
        if self.detect_speech:
            from eai_avatar.runtime.asr.vad import VoiceActivityDetector

            self._vad = VoiceActivityDetector(end_silence_ms=self.end_of_speech_ms)
        self._history, self._heard, self._frames_done = np.zeros(0, np.int16), 0, 0

    def _take(self, clean: np.ndarray, agent_speaking: bool, final: bool) -> list[Action]:
        start = self._heard
        self._heard += len(clean)
        self._history = np.concatenate([self._history, clean])[-int(HISTORY_S * SAMPLE_RATE) :]
        events = self._vad.push(clean) if self._vad is not None else []
        actions: list[Action] = []
        position = start  # where in this chunk the audio handed out so far ends
        if not self.detect_speech and self.utterance is None and len(clean):
            self.utterance = _Utterance(onset=start)
            actions.append(SpeechStarted())
        for event in events:
            if event.kind == "start" and self.utterance is None:
                actions += self._frames_until(max(event.sample, position), agent_speaking, final=False)
                position = max(event.sample, position)
                self.utterance = _Utterance(onset=event.sample)
                onset = self._history[max(0, len(self._history) - (self._heard - event.sample)) :]
                self._add(onset[: max(0, position - event.sample)])
                actions.append(SpeechStarted())
            elif event.kind == "end" and self.utterance is not None:
                self._add(clean[position - start :])
                actions += self._frames_until(self._heard, agent_speaking, final=False)
                position = self._heard
                actions.append(self._ended(None, "silence", until=event.sample))
        if self.utterance is not None and position < self._heard:
            self._add(clean[position - start :])
        actions += self._frames_until(self._heard, agent_speaking, final)
        if self.utterance is not None and self.utterance.samples > self.limit_s * SAMPLE_RATE:
            if not self.detect_speech:
                raise LimitExceeded(f"an utterance may last at most {self.limit_s:g} s; send user_utterance_end")
            actions.append(self._ended(None, "limit"))
        return actions

    def _add(self, audio: np.ndarray) -> None:
        if len(audio) and self.utterance is not None:
            self.utterance.audio.append(audio)
            self.utterance.unfed.append(audio)
            self.utterance.samples += len(audio)

    def _ended(self, transcript: str | None, reason: str, until: int | None = None) -> SpeechEnded:
        """The utterance's end; its audio stops at `until` (the first sample of the silence that ended it)."""
        audio = self.utterance_audio()
        self._ended_by_silence = reason != "client"
        if until is not None:
            audio = audio[: max(0, until - self.utterance.onset)]
        u = self.utterance
        fresh = self._vad is not None and u.speculated_loud == self._vad.loud_frames
        speculated = u.speculated_at if fresh else -1
        self.utterance = None
        return SpeechEnded(audio, transcript, reason, speculated)

    def _frames_until(self, sample: int, agent_speaking: bool, final: bool) -> list[Action]:
        """The frames the audio up to `sample` covers and that are not made yet (skipped while the agent speaks);
        an utterance's frames carry its audio not yet handed on, for the human's avatar."""
        lag = 0 if final or not self.detect_speech else FRAME_LAG_MS * SAMPLE_RATE // 1000
        heard = max(0, sample - lag)
        due = -(-heard * FPS // SAMPLE_RATE) if final else heard * FPS // SAMPLE_RATE
        count = due - self._frames_done
        if count <= 0:
            return []
        self._frames_done = due
        if agent_speaking:
            return []
        voice = np.zeros(0, np.int16)
        if self.utterance is not None and self.utterance.unfed:
            voice, self.utterance.unfed = np.concatenate(self.utterance.unfed), []
        return [Listen(count, self.utterance is not None, voice, self._pause_nod())]

    def _pause_nod(self) -> bool:
        """True once per pause of PAUSE_NOD_MS inside an utterance (the agent nods, as listeners do)."""
        u, vad = self.utterance, self._vad
        if u is None or vad is None or vad.quiet_ms < PAUSE_NOD_MS or u.nodded_loud == vad.loud_frames:
            return False
        u.nodded_loud = vad.loud_frames
        return True
