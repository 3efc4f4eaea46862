"""espeak-ng's IPA, clause by clause, with the punctuation that ended each clause (skipped without espeakng-loader)."""

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from eai_avatar.runtime.tts.espeak import EspeakBackend, IpaClause, phonemize_ipa  # noqa: E402


def test_clauses_come_with_the_mark_that_ended_them():
    clauses = phonemize_ipa("Hello there, my friend! How are you? I'm fine: thanks; really. Bye", "en-us")
    assert [c.punctuation for c in clauses] == [",", "!", "?", ":", ";", ".", ""]
    assert clauses[0] == IpaClause("həlˈoʊ ðˈɛɹ", ",")
    assert clauses[-1].phonemes == "bˈaɪ"


def test_marks_inside_quotes_and_runs_of_marks():
    clauses = phonemize_ipa('He said, "no way." Then he left... Really?!', "en-us")
    assert [c.punctuation for c in clauses] == [",", ".", ".", "!"]
    assert clauses[1].phonemes == "nˈoʊ wˈeɪ"


def test_numbers_and_times_do_not_split_clauses():
    (clause,) = phonemize_ipa("It costs $9.99 at 7:30 pm", "en-us")
    assert "nˈaɪn" in clause.phonemes and clause.punctuation == ""


def test_unknown_voice_and_bad_text_are_refused():
    with pytest.raises(ValueError, match="unknown espeak-ng voice 'xx-klingon'"):
        phonemize_ipa("Hello.", "xx-klingon")
    with pytest.raises(ValueError, match="text is empty"):
        phonemize_ipa("  ", "en-us")


def test_phonemizing_leaves_synthesis_as_it_was():
    backend = EspeakBackend()
    before = backend.synthesize("The quick brown fox.", "en-us+f3")
    phonemize_ipa("Something else entirely, in another voice!", "en-gb-x-rp")
    after = backend.synthesize("The quick brown fox.", "en-us+f3")
    # espeak-ng varies a little from call to call by itself (a few ms), so the same line is compared, not the bytes
    assert abs(len(before.samples) - len(after.samples)) < 0.01 * len(before.samples)
    assert [p.phoneme for p in before.phonemes] == [p.phoneme for p in after.phonemes]
    assert [w.word for w in before.words] == [w.word for w in after.words]
    starts = np.array([[a.start_s, b.start_s] for a, b in zip(before.phonemes, after.phonemes, strict=True)])
    assert np.abs(starts[:, 0] - starts[:, 1]).max() < 0.01


def test_many_phonemizations_do_not_cost_the_next_synthesis_its_first_word():
    """Every voice change queues an espeak event; hundreds of them used to crowd out a synthesis's first word."""
    backend = EspeakBackend()
    for i in range(300):
        phonemize_ipa("Hello there.", ("en-us", "en-gb-x-rp")[i % 2])
    speech = backend.synthesize("The quick brown fox jumps.", "en-us")
    assert [w.word for w in speech.words] == ["The", "quick", "brown", "fox", "jumps"]
