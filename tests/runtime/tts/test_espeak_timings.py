"""espeak event post-processing and lazy loading, without the GPL library (runs everywhere)."""

import subprocess
import sys

import pytest

from eai_avatar.runtime.tts import espeak
from eai_avatar.runtime.tts.espeak import _phoneme_timings, _RawEvent, _word_timings

WORD, PHONEME = 1, 7


def ph(ms: int, name: str, position: int = 1) -> _RawEvent:
    return _RawEvent(PHONEME, position, 0, ms, name)


def word(ms: int, position: int, length: int) -> _RawEvent:
    return _RawEvent(WORD, position, length, ms, "")


def test_phonemes_become_contiguous_spans_with_pauses_merged():
    events = [ph(11, "h"), ph(74, "'eI"), ph(200, ",oU"), ph(300, "_:"), ph(450, "_"), ph(470, "w"), ph(900, "_")]
    timings = _phoneme_timings(events, duration_s=0.9)
    assert [(t.phoneme, t.start_s, t.end_s) for t in timings] == [
        ("_", 0.0, 0.011),
        ("h", 0.011, 0.074),
        ("eI", 0.074, 0.2),
        ("oU", 0.2, 0.3),
        ("_", 0.3, 0.47),
        ("w", 0.47, 0.9),
    ]


def test_phoneme_times_are_clamped_into_the_audio():
    timings = _phoneme_timings([ph(0, "a"), ph(50, "b"), ph(40, "c"), ph(2000, "d")], duration_s=0.5)
    # "b" is overtaken by an out-of-order "c" and "d" lies past the audio: both would be empty spans.
    assert [(t.phoneme, t.start_s, t.end_s) for t in timings] == [("a", 0.0, 0.05), ("c", 0.05, 0.5)]
    assert _phoneme_timings([], 1.0) == []


def test_word_positions_are_one_based_characters():
    text = "Héllo wörld, 😀 ok"
    events = [
        word(0, 1, 5), ph(0, "h", 1), ph(100, "E", 1),
        word(300, 7, 5), ph(300, "w", 7), ph(400, "3:", 7), ph(500, "_", 13),
        word(600, 14, 1), ph(600, "g", 14), word(700, 15, 1), ph(700, "f", 15),  # emoji: two spoken words
        word(800, 17, 2), ph(800, "oU", 17), ph(950, "_", 17),
    ]  # fmt: skip
    phonemes = _phoneme_timings(events, duration_s=1.0)
    words = _word_timings(events, phonemes, text)
    assert [(w.word, w.start_s, w.end_s) for w in words] == [
        ("Héllo", 0.0, 0.3),
        ("wörld", 0.3, 0.5),
        ("😀", 0.6, 0.8),
        ("ok", 0.8, 0.95),
    ]


def test_importing_the_backend_does_not_load_espeak():
    code = "import sys, eai_avatar.runtime, eai_avatar.runtime.tts.espeak; print('espeakng_loader' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_missing_loader_gives_install_hint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(espeak, "_ENGINE", None)
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # makes `import espeakng_loader` fail
    with pytest.raises(ImportError, match="pip install espeakng-loader"):
        espeak.EspeakBackend()
