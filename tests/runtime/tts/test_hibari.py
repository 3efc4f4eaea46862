"""hibari's bundled "heart" voice: 16 kHz PCM16, deterministic, streamed sentence by sentence, never downloading."""

import urllib.request
from pathlib import Path

import numpy as np
import pytest

hibari = pytest.importorskip("hibari", reason="the hibari voice is optional (pip install 'eai-avatar[voices]')")

from eai_avatar.runtime.tts.hibari import HibariBackend, bundled_model_path  # noqa: E402

LINE = "The weather is lovely today. Shall we walk to the harbour? I will bring the sandwiches!"


@pytest.fixture(scope="module")
def backend() -> HibariBackend:
    return HibariBackend()


def test_only_the_bundled_model_file_is_ever_used(monkeypatch):
    used = []

    class Spy(hibari.Hibari):
        def __init__(self, *args, **kwargs):
            used.append(kwargs.get("model"))
            super().__init__(*args, **kwargs)

    def no_download(*args, **kwargs):
        pytest.fail(f"hibari tried to download: {args}")

    monkeypatch.setattr(hibari, "Hibari", Spy)
    monkeypatch.setattr(hibari.voices, "download", no_download)
    monkeypatch.setattr(urllib.request, "urlopen", no_download)
    speaker = HibariBackend()
    speaker.synthesize("Hello there.", "heart")
    assert used == [bundled_model_path()]
    assert Path(used[0]).is_file() and Path(used[0]).is_relative_to(Path(hibari.__file__).parent)
    assert speaker.voices() == ["heart"] and not speaker.accepts("emma")
    with pytest.raises(ValueError, match="unknown hibari voice 'emma'"):
        speaker.synthesize("Hello there.", "emma")  # another voice would download: refused before hibari sees it


def test_speech_is_16khz_pcm16_without_timings_and_deterministic(backend):
    speech = backend.synthesize("Hello there, my friend.", "heart")
    assert speech.sample_rate == 16000 and speech.samples.dtype == np.int16
    assert 0.8 < speech.duration_s < 3.0 and np.sqrt(np.mean(speech.samples.astype(float) ** 2)) > 300
    assert speech.phonemes == [] and speech.words == [] and speech.voice == "heart"
    again = backend.synthesize("Hello there, my friend.", "heart")
    assert np.array_equal(speech.samples, again.samples)
    other_seed = HibariBackend(seed=1).synthesize("Hello there, my friend.", "heart")
    assert not np.array_equal(speech.samples, other_seed.samples)


def test_speed_shortens_the_line(backend):
    normal = backend.synthesize("Hello there, my friend.", "heart")
    fast = backend.synthesize("Hello there, my friend.", "heart", speed=1.5)
    assert fast.duration_s < 0.9 * normal.duration_s
    with pytest.raises(ValueError, match="speed"):
        backend.synthesize("Hello.", "heart", speed=5)


def test_the_first_sentence_comes_before_the_rest_are_made(backend, monkeypatch):
    runs = []
    real = backend._tts.from_ids
    monkeypatch.setattr(backend._tts, "from_ids", lambda *a, **k: runs.append(1) or real(*a, **k))
    pieces = backend.stream(LINE, "heart")
    first = next(pieces)
    assert len(runs) == 1 and first.text == "The weather is lovely today." and first.duration_s > 0.5
    rest = list(pieces)
    assert len(runs) == 3
    assert [p.text for p in rest] == ["Shall we walk to the harbour?", "I will bring the sandwiches!"]
    whole = backend.synthesize(LINE, "heart")
    assert np.array_equal(np.concatenate([p.samples for p in [first, *rest]]), whole.samples)


def test_bad_text_is_refused(backend):
    for text in ("", "   ", "x" * 2001, None):
        with pytest.raises(ValueError, match="text"):
            backend.synthesize(text, "heart")
    assert backend.synthesize("...", "heart").duration_s >= 0.04  # nothing to say is still a frame of audio
