import json

import pytest

from eai_avatar.cli import main
from eai_avatar.export.speech import read_speech_folder


def test_data_speech_writes_a_folder(espeak_source, tmp_path, capsys):
    out = tmp_path / "speech"
    assert main(["data", "speech", "--out", str(out), "--voices", "espeak:en-us,espeak:en-us+f3", "--limit", "2"]) == 0
    folder = read_speech_folder(out)
    assert sorted(folder.manifest["voices"]) == ["espeak:en-us", "espeak:en-us+f3"]
    assert len(folder.utterances) == 4
    assert "libespeak-ng" in folder.manifest["programs"]["espeak"]
    voices = folder.manifest["voices"]
    texts = {voice: sorted(u.text for u in folder.utterances.values() if u.voice == voice) for voice in voices}
    assert texts["espeak:en-us"] == texts["espeak:en-us+f3"]  # every voice says the same sentences
    assert "wrote" in capsys.readouterr().out


def test_data_speech_reads_sentences_and_seeds_the_order(espeak_source, tmp_path):
    sentences = tmp_path / "lines.txt"
    sentences.write_text("# training lines\nBob bought a map.\n\nPam made a pie.\nMum baked buns.\n")
    runs = []
    for seed, name in [(1, "a"), (1, "b"), (2, "c")]:
        out = tmp_path / name
        assert main(["data", "speech", "--out", str(out), "--voices", "espeak:en-us", "--sentences", str(sentences),
                     "--limit", "2", "--seed", str(seed)]) == 0  # fmt: skip
        manifest = json.loads((out / "manifest.json").read_text())
        runs.append([entry["text"] for entry in manifest["utterances"]])
    assert runs[0] == runs[1]
    lines = {"Bob bought a map.", "Pam made a pie.", "Mum baked buns."}
    assert all(len(run) == 2 and set(run) <= lines for run in runs)


@pytest.mark.parametrize("voice", ["flite:slt", "festival:kal_diphone", "flite:kal16"])
def test_data_speech_refuses_reserved_voices(voice, tmp_path, capsys):
    assert main(["data", "speech", "--out", str(tmp_path / "x"), "--voices", f"espeak:en-us,{voice}"]) == 2
    assert "reserved" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_data_speech_names_the_missing_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["data", "speech", "--out", str(tmp_path / "x"), "--voices", "flite:awb"]) == 2
    assert "apt-get install flite" in capsys.readouterr().err


def test_data_speech_list(espeak_source, capsys):
    assert main(["data", "speech", "--list"]) == 0
    printed = capsys.readouterr().out
    assert "espeak:en-us" in printed and "reserved" in printed
    for reserved in ("flite:slt", "flite:kal", "festival:kal_diphone"):
        assert f"  {reserved}\n" not in printed
