"""The espeak-ng backend against the real library (skipped where the optional espeakng-loader is absent)."""

import threading

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from eai_avatar.runtime.tts.base import SpeechAudio  # noqa: E402
from eai_avatar.runtime.tts.espeak import ENGLISH_VOICES, MAX_TEXT_CHARS, EspeakBackend  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."


@pytest.fixture(scope="module")
def backend() -> EspeakBackend:
    return EspeakBackend()


@pytest.fixture(scope="module")
def sentence(backend: EspeakBackend) -> SpeechAudio:
    return backend.synthesize(SENTENCE, "en-us")


def median_f0(samples: np.ndarray, rate: int = 16000) -> float:
    """Median autocorrelation F0 over voiced 40 ms frames (loud enough, clearly periodic in 60-400 Hz)."""
    x = samples.astype(np.float64) / 32768.0
    frame, hop = int(0.04 * rate), int(0.01 * rate)
    shortest, longest = rate // 400, rate // 60
    loudness = np.sqrt(np.mean(x**2))
    estimates = []
    for start in range(0, len(x) - frame, hop):
        chunk = x[start : start + frame] - x[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < 0.5 * loudness:
            continue
        ac = np.correlate(chunk, chunk, "full")[frame - 1 :]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        lag = shortest + int(np.argmax(ac[shortest:longest]))
        if ac[lag] > 0.5:
            estimates.append(rate / lag)
    assert len(estimates) >= 20, "too few voiced frames to estimate pitch"
    return float(np.median(estimates))


def test_sentence_audio_is_16khz_pcm16_of_sensible_length(sentence: SpeechAudio):
    assert sentence.sample_rate == 16000
    assert sentence.samples.dtype == np.int16 and sentence.samples.ndim == 1
    assert 2.0 < sentence.duration_s < 7.0  # 13 words at 175 words per minute
    assert np.sqrt(np.mean(sentence.samples.astype(np.float64) ** 2)) > 300
    assert sentence.text == SENTENCE and sentence.voice == "en-us"


def test_phoneme_timings_are_ordered_contiguous_and_inside_the_audio(sentence: SpeechAudio):
    phonemes = sentence.phonemes
    assert len(phonemes) > 30
    assert phonemes[0].start_s == 0.0
    assert phonemes[-1].end_s <= sentence.duration_s + 1e-9
    for p in phonemes:
        assert 0.0 <= p.start_s < p.end_s <= sentence.duration_s + 1e-9
        assert p.phoneme and not p.phoneme.startswith(("'", ","))  # stress marks stripped
    for a, b in zip(phonemes, phonemes[1:], strict=False):
        assert a.end_s <= b.start_s + 1e-9
        assert not (a.phoneme == "_" and b.phoneme == "_")  # adjacent pauses merged
    names = {p.phoneme for p in phonemes}
    assert {"k", "w", "b", "r", "f", "d"} <= names


def test_word_timings_follow_the_text(sentence: SpeechAudio):
    words = sentence.words
    expected = [w.strip(".") for w in SENTENCE.split()]
    assert [w.word for w in words] == expected
    for w in words:
        assert 0.0 <= w.start_s < w.end_s <= sentence.duration_s + 1e-9
    for a, b in zip(words, words[1:], strict=False):
        assert a.start_s < b.start_s and a.end_s <= b.start_s + 1e-9


def test_words_with_numbers_apostrophes_and_accents(backend: EspeakBackend):
    text = "I have 123 apples, don't you? Café naïve résumé — Dr. Smith's!"
    speech = backend.synthesize(text, "en-us")
    assert [w.word for w in speech.words] == [
        "I", "have", "123", "apples", "don't", "you", "Café", "naïve", "résumé", "Dr", "Smith's",
    ]  # fmt: skip
    number = speech.words[2]
    assert number.end_s - number.start_s > 0.5  # "one hundred and twenty three" is one written word


def test_pauses_are_silence_phonemes(backend: EspeakBackend):
    speech = backend.synthesize("Hello there, my friend. How are you today?", "en-us")
    words = {w.word: w for w in speech.words}
    pauses = [p for p in speech.phonemes if p.phoneme == "_"]
    assert pauses
    for before, after in (("there", "my"), ("friend", "How")):
        gap = [p for p in pauses if p.start_s >= words[before].end_s - 1e-9 and p.end_s <= words[after].start_s + 1e-9]
        assert gap and max(p.end_s - p.start_s for p in gap) >= 0.05, (before, after)
    # The pauses really are quiet compared with the speech around them.
    longest = max(pauses, key=lambda p: p.end_s - p.start_s)
    quiet = speech.samples[int(longest.start_s * 16000) + 80 : int(longest.end_s * 16000) - 80].astype(np.float64)
    loud = speech.samples.astype(np.float64)
    assert np.sqrt(np.mean(quiet**2)) < 0.1 * np.sqrt(np.mean(loud**2))


def test_every_listed_voice_speaks(backend: EspeakBackend):
    voices = backend.voices()
    assert len(voices) >= 8 and len(set(voices)) == len(voices)
    assert {"en-us", "en-us+f3", "en+klatt4", "en-gb-x-rp+m5"} <= set(voices)
    for voice in voices:
        speech = backend.synthesize("Good morning.", voice)
        assert speech.voice == voice
        assert speech.duration_s > 0.3 and np.abs(speech.samples).max() > 1000, voice
        assert speech.phonemes and speech.words


def test_male_and_female_voices_differ_in_pitch(backend: EspeakBackend):
    male = median_f0(backend.synthesize(SENTENCE, "en-us").samples)
    female = median_f0(backend.synthesize(SENTENCE, "en-us+f3").samples)
    assert 70 < male < 150 and 160 < female < 300
    assert female > 1.5 * male


def test_rate_and_pitch_options_and_reset(backend: EspeakBackend, sentence: SpeechAudio):
    fast = backend.synthesize(SENTENCE, "en-us", rate=320)
    slow = backend.synthesize(SENTENCE, "en-us", rate=110)
    assert fast.duration_s < 0.75 * sentence.duration_s < slow.duration_s
    high = median_f0(backend.synthesize(SENTENCE, "en-us", pitch=90).samples)
    low = median_f0(backend.synthesize(SENTENCE, "en-us", pitch=10).samples)
    assert high > 1.2 * low
    # Per-call options must not leak into the next call through espeak's global state.
    again = backend.synthesize(SENTENCE, "en-us")
    assert again.duration_s == pytest.approx(sentence.duration_s, rel=0.02)
    assert EspeakBackend(rate=300).synthesize(SENTENCE, "en-us").duration_s < 0.75 * sentence.duration_s


def test_voice_names_are_resolved(backend: EspeakBackend):
    assert backend.synthesize("Hi.", "EN-US+F3").voice == "en-us+f3"
    assert "en-us" in backend.languages() and "de" in backend.languages()
    assert {"f3", "m5", "klatt4"} <= set(backend.variants())
    assert backend.synthesize("Guten Tag.", "de+m2").duration_s > 0.3


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(backend: EspeakBackend, text: str):
    with pytest.raises(ValueError, match="empty"):
        backend.synthesize(text, "en-us")


def test_too_long_text_is_refused(backend: EspeakBackend):
    backend.synthesize("a" * MAX_TEXT_CHARS, "en-us")  # the limit itself is fine
    with pytest.raises(ValueError, match=str(MAX_TEXT_CHARS + 1)):
        backend.synthesize("a" * (MAX_TEXT_CHARS + 1), "en-us")


@pytest.mark.parametrize("voice", ["klingon", "en-us+nosuchvariant", "en-gb+f4", "", "+f3"])
def test_unknown_voice_is_refused_with_suggestions(backend: EspeakBackend, voice: str):
    with pytest.raises(ValueError) as excinfo:
        backend.synthesize("Hello.", voice)
    message = str(excinfo.value)
    assert repr(voice) in message and "en-us" in message and ENGLISH_VOICES[1] in message


@pytest.mark.parametrize("options", [{"rate": 10}, {"rate": 1000}, {"pitch": -1}, {"pitch": 101}, {"rate": 1.5}])
def test_bad_rate_or_pitch_is_refused(backend: EspeakBackend, options: dict):
    with pytest.raises(ValueError):
        backend.synthesize("Hello.", "en-us", **options)
    with pytest.raises(ValueError):
        EspeakBackend(**options)


def test_nul_and_markup_are_spoken_as_text(backend: EspeakBackend):
    speech = backend.synthesize("one\0two <b>three</b> [[four]]", "en-us")
    assert speech.duration_s > 1.0 and len(speech.words) >= 3


def test_concurrent_synthesis_is_serialized_and_correct(backend: EspeakBackend):
    jobs = {
        "a": ("The first avatar talks about the weather today.", "en-us"),
        "b": ("Meanwhile the second one answers with a different voice!", "en-us+f3"),
    }
    reference = {key: backend.synthesize(text, voice) for key, (text, voice) in jobs.items()}
    results: dict[str, list[SpeechAudio]] = {key: [] for key in jobs}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def work(key: str) -> None:
        text, voice = jobs[key]
        try:
            barrier.wait()
            for _ in range(4):
                results[key].append(backend.synthesize(text, voice))
        except BaseException as exc:  # surfaced by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(key,)) for key in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    for key, (text, voice) in jobs.items():
        assert len(results[key]) == 4
        for speech in results[key]:
            assert speech.text == text and speech.voice == voice
            assert [w.word for w in speech.words] == [w.word for w in reference[key].words]
            assert speech.duration_s == pytest.approx(reference[key].duration_s, rel=0.02)
            assert median_f0(speech.samples) == pytest.approx(median_f0(reference[key].samples), rel=0.1)


@pytest.mark.parametrize("voice", ["en-us", "de"])
def test_a_stops_span_holds_its_closure_and_language_switches_are_not_sounds(backend: EspeakBackend, voice: str):
    """espeak-ng times a stop's silent closure as the end of the sound before it; the lips of a "p" are shut in that
    silence, so the span is moved back over it. A German voice reading English marks "(en)"; that is no sound."""
    speech = backend.synthesize("I saw a happy baby tapping the top of a cup.", voice)
    level = 10 * np.log10(np.mean(speech.samples[: len(speech.samples) // 80 * 80].astype(np.float64).reshape(-1, 80)
                                  ** 2, axis=1) + 1.0)  # fmt: skip
    phonemes = speech.phonemes
    stops = [(before, stop) for before, stop in zip(phonemes, phonemes[1:], strict=False)
             if stop.phoneme in ("p", "t", "k") and before.phoneme != "_"]  # fmt: skip
    assert len(stops) >= 5
    for before, stop in stops:
        opening = level[int(stop.start_s * 200) : int(stop.start_s * 200) + 2]  # its first 10 ms
        assert opening.min() < level[int(before.start_s * 200) : int(before.end_s * 200)].max() - 30, stop
        assert before.end_s - before.start_s >= 0.02
    assert not [p.phoneme for p in phonemes if p.phoneme.startswith("(")]
