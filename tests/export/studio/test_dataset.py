"""A tiny synthetic dataset, made for real: files, shapes, splits and the timing facts training relies on."""

import json
import string

import numpy as np
import pytest

pytest.importorskip("espeakng_loader", reason="the dataset speaks with espeak-ng (pip install espeakng-loader)")

from eai_avatar.export.studio.dataset import (  # noqa: E402
    LEAD_S,
    SynthConfig,
    load_manifest,
    plan_clips,
    read_wav,
    synthesize_dataset,
)
from eai_avatar.runtime.tts.espeak import EspeakBackend  # noqa: E402
from eai_avatar.vocabulary import BLENDSHAPE_INDEX, EMOTIONS, SAMPLES_PER_FRAME  # noqa: E402


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    manifest = synthesize_dataset(SynthConfig(out, identities=3, clips=6, seed=5, image_size=64, workers=1))
    return out, manifest


def test_manifest_and_files(dataset):
    out, manifest = dataset
    assert load_manifest(out) == manifest
    assert len(manifest["clips"]) == 6 and set(manifest["identities"]) == {"ada", "bo", "cyra"}
    assert sum(len(v) for v in manifest["splits"].values()) == 6 and all(manifest["splits"].values())
    assert manifest["stats"]["clips_per_minute"] > 0
    for record in manifest["clips"]:
        clip = out / record["path"]
        meta = json.loads((clip / "meta.json").read_text())
        audio = read_wav(clip / "audio.wav")
        frames = meta["frames"]
        assert len(audio) == frames * SAMPLES_PER_FRAME  # whole frames of audio
        assert record["speaker"] != record["listener"]
        for role in ("speaker", "listener"):
            with np.load(clip / f"{role}.npz") as arrays:
                assert arrays["blendshapes"].shape == (frames, 52) and arrays["poses"].shape == (frames, 6)
                assert arrays["frames"].shape == (frames, 64, 64, 3) and arrays["motion"].shape == (frames, 64, 64, 3)
                assert arrays["masks"].shape == (frames, 64, 64) and arrays["masks"].max() == 255
        # phonemes and words lie inside the audio, after the lead-in silence
        end = len(audio) / meta["sample_rate"]
        assert meta["phonemes"][0][1] >= LEAD_S - 1e-6 and meta["phonemes"][-1][2] <= end
        assert all(LEAD_S - 1e-6 <= w["start_s"] < w["end_s"] <= end for w in meta["words"])
        assert meta["words"][0]["word"] == meta["text"].split()[0].strip(string.punctuation)


def test_silence_closes_the_speakers_mouth_and_speech_opens_it(dataset):
    out, manifest = dataset
    for record in manifest["clips"]:
        with np.load(out / record["path"] / "speaker.npz") as arrays:
            jaw = arrays["blendshapes"][:, BLENDSHAPE_INDEX["jawOpen"]]
        lead_frames = int(LEAD_S * 25) - 3  # up to 100 ms before the first phoneme
        assert jaw[:lead_frames].max() < 0.05 and jaw.max() > 0.2


def test_test_split_holds_out_sentences_and_a_voice(tmp_path):
    voices = EspeakBackend().voices()
    plans, facts = plan_clips(SynthConfig(tmp_path, clips=80, seed=1), voices)
    train = [p for p in plans if p.split == "train"]
    test = [p for p in plans if p.split == "test"]
    assert {p.text for p in train}.isdisjoint({p.text for p in test})
    held_out_voice = facts["test_only_voices"][0]
    assert held_out_voice not in {p.voice for p in train} and held_out_voice in {p.voice for p in test}
    assert {p.speaker_emotion for p in plans} == set(EMOTIONS)
    again, _ = plan_clips(SynthConfig(tmp_path, clips=80, seed=1), voices)
    assert again == plans  # the plan is deterministic per seed


def test_bad_configs_and_an_existing_dataset(dataset, tmp_path):
    with pytest.raises(ValueError, match="identities"):
        SynthConfig(tmp_path, identities=1)
    with pytest.raises(ValueError, match="image_size"):
        SynthConfig(tmp_path, image_size=100)
    with pytest.raises(ValueError, match="already holds a dataset"):
        synthesize_dataset(SynthConfig(dataset[0], clips=3))
    with pytest.raises(FileNotFoundError):
        load_manifest(tmp_path / "nothing")


def test_every_character_has_a_working_voice_of_its_own():
    from eai_avatar.export.studio.characters import CHARACTERS

    backend = EspeakBackend()
    voices = [style.voice for style in CHARACTERS.values()]
    assert len(set(voices)) == len(voices)
    for style in CHARACTERS.values():
        speech = backend.synthesize("Hello there.", style.voice)
        assert speech.sample_rate == 16_000 and speech.duration_s > 0.3 and speech.phonemes


def test_data_talk_writes_a_character_video_with_sound(tmp_path, capsys):
    av = pytest.importorskip("av", reason="writing MP4 needs PyAV")
    from eai_avatar.cli import main

    out = tmp_path / "eli.mp4"
    assert main(["data", "talk", "--character", "eli", "--lines", "2", "--size", "64", "--out", str(out)]) == 0
    with av.open(str(out)) as container:
        video = next(s for s in container.streams if s.type == "video")
        assert len(container.streams.audio) == 1 and video.width == 64
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 25  # two spoken lines, each with its lead and tail silence
    assert main(["data", "talk", "--character", "zed", "--out", str(tmp_path / "x.mp4")]) == 2
    assert "unknown character 'zed'" in capsys.readouterr().err and not (tmp_path / "x.mp4").exists()
