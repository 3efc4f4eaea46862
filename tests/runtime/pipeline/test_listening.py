"""The human's microphone: frames that follow the audio whatever its chunking, utterances found by voice activity
(or by the client), and the limits."""

import numpy as np
import pytest

from eai_avatar.runtime.errors import FailedPrecondition
from eai_avatar.runtime.sessions.listening import HumanListener, Listen, SpeechEnded, SpeechStarted
from tests.runtime.audio.test_echo import voice_like


def feed(listener, audio, rate, chunk_ms, agent_speaking=False):
    actions, step = [], max(1, rate * chunk_ms // 1000)
    for start in range(0, len(audio), step):
        actions += listener.hear(audio[start : start + step], rate, agent_speaking)
    return actions


def phrase(seconds: float, seed: int) -> np.ndarray:
    """A voice without gaps between its syllables (voice_like's gaps are 146 ms: pauses, to a listener)."""
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 140.0 * (1 + 0.1 * np.sin(2 * np.pi * (0.5 + seed % 3 * 0.5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    loudness = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t + seed)
    return sum(np.sin(k * phase) / k for k in range(1, 6)) * loudness * 6000


def frames(actions, speaking=None):
    return sum(a.frames for a in actions if isinstance(a, Listen) and (speaking is None or a.speaking == speaking))


@pytest.mark.parametrize("chunk_ms", [20, 40, 100, 250, 1000])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_without_voice_activity_an_utterance_is_the_clients_and_frames_follow_its_audio(chunk_ms, rate):
    listener = HumanListener(detect_speech=False)
    audio = (np.sin(np.arange(int(3.41 * rate)) * 0.05) * 8000).astype(np.int16)
    actions = feed(listener, audio, rate, chunk_ms) + listener.end("hello there")
    assert isinstance(actions[0], SpeechStarted) and isinstance(actions[-1], SpeechEnded)
    assert frames(actions) == frames(actions, speaking=True) == 86  # ceil(3.41 s * 25), whatever the chunks
    ended = actions[-1]
    assert ended.transcript == "hello there" and ended.reason == "client"
    assert abs(len(ended.samples) - 3.41 * 16000) < 2


def test_voice_activity_finds_each_utterance_and_the_frames_around_it():
    listener = HumanListener(detect_speech=True, end_of_speech_ms=400)
    rng = np.random.default_rng(0)
    silence = lambda s: (rng.normal(0, 20, int(s * 16000))).astype(np.int16)  # noqa: E731
    audio = np.concatenate([silence(1.0), voice_like(1.5, 1), silence(1.2), voice_like(1.0, 2), silence(1.0)])
    actions = feed(listener, audio, 16000, 20)
    kinds = [type(a).__name__ for a in actions if not isinstance(a, Listen)]
    assert kinds == ["SpeechStarted", "SpeechEnded", "SpeechStarted", "SpeechEnded"]
    first_start = next(i for i, a in enumerate(actions) if isinstance(a, SpeechStarted))
    assert 20 <= frames(actions[:first_start]) <= 25  # the first second is the agent waiting, not a turn
    ended = [a for a in actions if isinstance(a, SpeechEnded)]
    assert abs(len(ended[0].samples) / 16000 - 1.5) < 0.3 and ended[0].transcript is None
    assert frames(actions) == len(audio) * 25 // 16000 - 4  # every frame made, a lag (160 ms) behind the audio


def test_a_client_end_after_the_silence_ended_the_utterance_is_that_ones_and_without_speech_makes_one():
    listener = HumanListener(detect_speech=True)
    rng = np.random.default_rng(1)
    silence = lambda s: (rng.normal(0, 20, int(s * 16000))).astype(np.int16)  # noqa: E731
    spoken = feed(listener, np.concatenate([silence(0.5), voice_like(1.0, 5), silence(1.0)]), 16000, 20)
    assert sum(isinstance(a, SpeechEnded) for a in spoken) == 1
    assert listener.end(None) == []  # push-to-talk released after the pause: no second, empty utterance
    feed(listener, silence(1.0), 16000, 20)  # nothing voice activity calls speech (a whisper, noise)
    ended = [a for a in listener.end("I said something") if isinstance(a, SpeechEnded)]
    assert len(ended) == 1 and ended[0].transcript == "I said something" and ended[0].reason == "client"


def test_in_a_room_with_hiss_a_pause_gets_one_nod_and_its_words_transcribed():
    """The quiet is judged as voice activity judges it, so a microphone's own noise is quiet (a level measured
    another way once took room noise for speech and never nodded or transcribed at a pause)."""
    rng = np.random.default_rng(3)
    room = lambda s: rng.normal(0, 30, int(s * 16000))  # noqa: E731  (about -61 dBFS)
    speech = lambda s, seed: room(s) + phrase(s, seed)  # noqa: E731
    audio = np.concatenate([room(1.0), speech(1.0, 9), room(0.4), speech(0.8, 10), room(0.2)]).astype(np.int16)
    listener, actions, speculated = HumanListener(detect_speech=True), [], []
    for start in range(0, len(audio), 320):
        actions += listener.hear(audio[start : start + 320], 16000, agent_speaking=False)
        if listener.wants_speculation():
            speculated.append(listener.speculation_taken())
    assert listener.open and not any(isinstance(a, SpeechEnded) for a in actions)  # 0.4 s is a pause, not an end
    assert sum(a.nod for a in actions if isinstance(a, Listen)) == 1
    assert len(speculated) == 2  # at the pause, and at the quiet after the last words
    ended = [a for a in listener.end(None) if isinstance(a, SpeechEnded)][0]
    assert ended.speculated_samples == speculated[-1]


def test_an_end_says_whether_the_transcription_begun_at_the_last_pause_covers_the_words():
    rng = np.random.default_rng(2)
    silence = lambda s: (rng.normal(0, 20, int(s * 16000))).astype(np.int16)  # noqa: E731
    listener = HumanListener(detect_speech=True)
    feed(listener, np.concatenate([silence(0.5), voice_like(1.0, 6), silence(0.2)]), 16000, 20)
    assert listener.wants_speculation()
    taken = listener.speculation_taken()
    feed(listener, silence(0.1), 16000, 20)  # only quiet after it, then push-to-talk is released
    ended = [a for a in listener.end(None) if isinstance(a, SpeechEnded)][0]
    assert ended.speculated_samples == taken and len(ended.samples) > taken

    listener = HumanListener(detect_speech=True)
    feed(listener, np.concatenate([silence(0.5), voice_like(1.0, 7), silence(0.2)]), 16000, 20)
    listener.speculation_taken()
    feed(listener, voice_like(0.3, 8), 16000, 20)  # more words after the pause: that transcription is stale
    ended = [a for a in listener.end(None) if isinstance(a, SpeechEnded)][0]
    assert ended.speculated_samples == -1


def test_while_the_agent_speaks_the_microphone_makes_no_frames_but_hears_speech():
    listener = HumanListener(detect_speech=True)
    audio = np.concatenate([np.zeros(8000, np.int16), voice_like(1.0, 3)])
    actions = feed(listener, audio, 16000, 20, agent_speaking=True)
    assert frames(actions) == 0 and any(isinstance(a, SpeechStarted) for a in actions)
    later = feed(listener, voice_like(0.5, 4), 16000, 20)
    assert frames(later, speaking=True) > 0  # once the agent is quiet, the utterance's frames come


def test_limits_and_a_rate_change():
    listener = HumanListener(detect_speech=False, limit_s=1.0)
    listener.hear(np.zeros(12000, np.int16), 16000, False)
    with pytest.raises(ValueError, match="at most 1 s"):
        listener.hear(np.zeros(8000, np.int16), 16000, False)
    with pytest.raises(ValueError, match="sample rate"):
        listener.hear(np.zeros(100, np.int16), 8000, False)
    with pytest.raises(FailedPrecondition, match="without user_audio"):
        HumanListener(detect_speech=False).end(None)
