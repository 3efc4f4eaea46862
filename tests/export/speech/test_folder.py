import json

import numpy as np
import pytest

from eai_avatar.export.speech import Phone, SpokenText, read_speech_folder, utterance_id, write_speech_folder
from eai_avatar.export.speech.folder import MANIFEST, read_utterance
from eai_avatar.export.speech.wavfile import read_pcm16


def _spoken(voice="festival:kdlpc16k", text="Bob.", seconds=0.5, seed=0):
    samples = (np.random.default_rng(seed).normal(0, 3000, int(seconds * 16000))).astype(np.int16)
    phones = (Phone("pau", 0.0, 0.1, "sil"), Phone("b", 0.1, 0.17, "PP"), Phone("aa", 0.17, 0.3, "aa"),
              Phone("b", 0.3, 0.3, "PP"), Phone("pau", 0.3, seconds, "sil"))  # fmt: skip
    return SpokenText(text, voice, "festival-radio", samples, phones)


def test_utterance_ids_are_file_names():
    assert utterance_id("festival:kdlpc16k", 7) == "festival-kdlpc16k-0007"
    assert utterance_id("espeak:en-us+f3", 12) == "espeak-en-us-f3-0012"
    assert utterance_id("espeak:en-gb-x-rp+m5", 0) == "espeak-en-gb-x-rp-m5-0000"


def test_round_trip(tmp_path):
    first, second = _spoken(), _spoken("flite:awb", 'He said "maybe".', 0.4, seed=1)
    items = [(utterance_id(first.voice, 0), first), (utterance_id(second.voice, 3), second)]
    manifest = write_speech_folder(tmp_path / "speech", items, {"festival": "festival 2.5.0", "flite": "flite-2.2"})
    folder = read_speech_folder(tmp_path / "speech")
    assert folder.manifest == manifest == json.loads((tmp_path / "speech" / MANIFEST).read_text())
    assert manifest["programs"] == {"festival": "festival 2.5.0", "flite": "flite-2.2"}
    assert manifest["voices"] == {
        "festival:kdlpc16k": {"phone_set": "festival-radio", "utterances": 1, "seconds": 0.5},
        "flite:awb": {"phone_set": "festival-radio", "utterances": 1, "seconds": 0.4},
    }
    assert [entry["id"] for entry in manifest["utterances"]] == ["festival-kdlpc16k-0000", "flite-awb-0003"]
    for uid, original in items:
        back = folder.utterances[uid]
        assert back.text == original.text and back.voice == original.voice and back.phone_set == original.phone_set
        np.testing.assert_array_equal(back.samples, original.samples)
        assert back.phones == original.phones
        samples, rate = read_pcm16(tmp_path / "speech" / f"{uid}.wav")
        assert rate == 16000 and samples.dtype == np.int16
    written = json.loads((tmp_path / "speech" / "festival-kdlpc16k-0000.json").read_text())
    assert set(written) == {"text", "voice", "phone_set", "duration", "phones"}
    assert written["phones"][1] == {"phone": "b", "start": 0.1, "end": 0.17, "viseme": "PP"}
    assert not list((tmp_path / "speech").glob("*.partial"))


def test_espeak_utterance_round_trip(espeak_source, tmp_path):
    spoken = espeak_source.speak("Pam made plum pie.", "en-us+f3")
    write_speech_folder(tmp_path, [("espeak-en-us-f3-0001", spoken)], {"espeak": espeak_source.program_version()})
    back = read_utterance(tmp_path, "espeak-en-us-f3-0001")
    np.testing.assert_array_equal(back.samples, spoken.samples)
    assert [(p.phone, p.viseme) for p in back.phones] == [(p.phone, p.viseme) for p in spoken.phones]
    assert all(abs(a.end - b.end) < 1e-5 for a, b in zip(back.phones, spoken.phones, strict=True))


def test_an_existing_folder_is_never_overwritten(tmp_path):
    write_speech_folder(tmp_path, [("a", _spoken())], {})
    with pytest.raises(ValueError, match="already holds a speech folder"):
        write_speech_folder(tmp_path, [("b", _spoken())], {})


def test_duplicate_and_bad_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="two utterances"):
        write_speech_folder(tmp_path / "one", [("a", _spoken()), ("a", _spoken())], {})
    with pytest.raises(ValueError, match="utterance id"):
        write_speech_folder(tmp_path / "two", [("../escape", _spoken())], {})


def test_gaps_between_phones_are_refused(tmp_path):
    spoken = _spoken()
    phones = spoken.phones[:2] + spoken.phones[3:]
    holed = SpokenText(spoken.text, spoken.voice, spoken.phone_set, spoken.samples, phones)
    with pytest.raises(ValueError, match="starts at"):
        write_speech_folder(tmp_path, [("a", holed)], {})


def test_reading_what_is_not_a_finished_folder(tmp_path):
    with pytest.raises(ValueError, match="no manifest.json"):
        read_speech_folder(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not format"):
        read_speech_folder(tmp_path)
