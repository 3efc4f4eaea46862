"""The echo canceller takes a delayed, scaled copy of the agent's voice out of the microphone and leaves the
human's voice in."""

import numpy as np
import pytest

from eai_avatar.runtime.audio.echo import EchoCanceller


def voice_like(seconds: float, seed: int, pitch: float = 140.0) -> np.ndarray:
    """Syllables of a harmonic tone with a random melody: speech-like enough for correlation and energy."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = pitch * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = (np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6)) > -0.2).astype(float)
    return (tone * envelope * 6000).astype(np.int16)


def rms_db(x) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-9)


@pytest.mark.parametrize("delay_ms, gain", [(0, 0.5), (120, 0.6), (330, 0.3)])
def test_the_agents_voice_is_taken_out_and_the_humans_kept(delay_ms, gain):
    agent = voice_like(6.0, 1)
    human = voice_like(2.0, 2, pitch=220.0)
    rng = np.random.default_rng(3)
    canceller = EchoCanceller()
    canceller.add_reference(agent, presentation_ms=1000)  # the voice the server sent, from 1 s on the clock
    delay = delay_ms * 16
    mic = np.zeros(len(agent) + 16000, np.float64)
    mic[16000 + delay : 16000 + delay + len(agent)] += gain * agent[: len(mic) - 16000 - delay]
    mic[4 * 16000 : 6 * 16000] += human  # the human talks over it from 4 s
    mic += rng.normal(0, 30, len(mic))
    mic = np.clip(mic, -32768, 32767).astype(np.int16)
    out = np.concatenate([canceller.process(mic[i : i + 320], i // 16) for i in range(0, len(mic), 320)])
    echo_only, both = slice(2 * 16000, 4 * 16000), slice(int(4.5 * 16000), 6 * 16000)
    assert rms_db(out[echo_only]) < rms_db(mic[echo_only]) - 15  # the echo is mostly gone
    assert abs(canceller.delay - delay) <= 16 and canceller.gain == pytest.approx(gain, rel=0.2)
    residual_human = out[both].astype(np.float64) - human[len(human) - len(out[both]) :]
    assert rms_db(residual_human) < rms_db(human) - 10  # and the human is what is left


def test_nothing_sent_nothing_taken():
    canceller = EchoCanceller()
    mic = voice_like(1.0, 4)
    assert np.array_equal(canceller.process(mic, 0), mic)
