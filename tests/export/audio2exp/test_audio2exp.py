"""Audio2Exp: streaming equals the whole utterance, silence closes the mouth, ONNX parity, training, errors."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the training side needs torch (pip install 'eai-avatar[train]')")

from eai_avatar.export.audio2exp.evaluate import evaluate_audio2exp, pause_frames, torch_expression_fn  # noqa: E402
from eai_avatar.export.audio2exp.export import export_audio2exp, parity  # noqa: E402
from eai_avatar.export.audio2exp.train import PRESETS, load_audio2exp, preset, train_audio2exp  # noqa: E402
from eai_avatar.export.models.audio2exp import Audio2Exp  # noqa: E402
from eai_avatar.runtime.models.audio2exp import (  # noqa: E402
    ExpressionGenerator,
    emotion_vector,
    load_expression_generator,
    silence_features,
)
from eai_avatar.vocabulary import BLENDSHAPE_INDEX, SAMPLE_RATE  # noqa: E402

TINY = PRESETS["tiny"].model
JAW = BLENDSHAPE_INDEX["jawOpen"]


def _speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Bursts of a voiced, harmonic signal separated by pauses: something for the features to move with."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    envelope = (np.sin(2 * np.pi * 2.5 * t) > 0.2) * rng.uniform(0.5, 1.0)
    return (voiced * envelope * 4000).astype(np.int16)


def _generator(model):
    return ExpressionGenerator(torch_expression_fn(model.eval()), model.config.context)


def test_receptive_field_is_finite_and_as_configured():
    torch.manual_seed(0)
    model = Audio2Exp(TINY).eval()
    c = TINY.context
    assert c == sum(TINY.dilations) * (TINY.kernel - 1) // 2
    features = torch.randn(1, 40 + 2 * c, TINY.input_dim)
    emotion = torch.from_numpy(emotion_vector("happy"))[None]
    with torch.no_grad():
        base = model(features, emotion)
        assert base.shape == (1, 40, 52)
        changed = features.clone()
        changed[:, 20 + 2 * c + 1 :] += 5.0  # beyond the receptive field of output frame 20
        assert torch.equal(model(changed, emotion)[:, :21], base[:, :21])
        changed[:, 20 + 2 * c] += 5.0  # the last input frame that output 20 sees
        assert not torch.allclose(model(changed, emotion)[:, 20], base[:, 20])


@pytest.mark.parametrize("chunking", ["half_second", "random", "one_frame"])
def test_streaming_equals_the_whole_utterance(chunking):
    torch.manual_seed(1)
    generator = _generator(Audio2Exp(TINY))
    audio = _speech_like(3.0)
    whole = generator.whole(audio, SAMPLE_RATE, "angry")
    assert whole.shape == (len(audio) // 640, 52)
    rng = np.random.default_rng(2)
    sizes = {"half_second": lambda: SAMPLE_RATE // 2, "random": lambda: int(rng.integers(0, 9000)),
             "one_frame": lambda: 640}[chunking]  # fmt: skip
    stream, pieces, start = generator.stream("angry"), [], 0
    while start < len(audio):
        size = sizes()
        pieces.append(stream.push(audio[start : start + size]))
        start += size
    pieces.append(stream.finish())
    streamed = np.concatenate(pieces)
    assert streamed.shape == whole.shape and stream.frames_emitted == len(whole)
    assert np.abs(streamed - whole).max() < 1e-3
    # frames come out while the audio is still arriving, not all at the end
    assert sum(len(p) for p in pieces[:-1]) > len(whole) // 2


def test_clear_errors_for_bad_audio_and_emotions():
    generator = _generator(Audio2Exp(TINY))
    with pytest.raises(ValueError, match="16000"):
        generator.whole(_speech_like(1.0), 8000, "happy")
    with pytest.raises(ValueError, match="(?i)empty"):
        generator.whole(np.zeros(0, np.int16), SAMPLE_RATE, "happy")
    with pytest.raises(ValueError, match="16000"):
        generator.stream("happy", sample_rate=44100)
    with pytest.raises(ValueError, match="unknown emotion|emotion"):
        generator.whole(_speech_like(1.0), SAMPLE_RATE, "joyful")
    with pytest.raises(ValueError, match="non-negative"):
        emotion_vector([1, 0, 0, 0, 0, 0, 0, -1])
    stream = generator.stream("happy")
    stream.finish()
    with pytest.raises(ValueError, match="finished"):
        stream.push(_speech_like(0.1))


def test_emotion_mixtures_are_normalized():
    mixed = emotion_vector({"happy": 2.0, "surprised": 2.0})
    assert mixed.sum() == pytest.approx(1.0) and mixed.max() == pytest.approx(0.5)
    assert np.array_equal(emotion_vector("sad"), emotion_vector({"sad": 3.0}))


def test_pause_frames_cover_long_gaps_only():
    phonemes = [["_", 0.0, 0.3], ["a", 0.3, 0.6], ["t", 0.6, 0.7], ["_", 0.7, 0.8], ["o", 0.8, 1.4]]
    frames = pause_frames(phonemes, 50)  # 2 s: silence 0-0.3, a short gap (not counted), silence 1.4-2.0
    times = (np.arange(50) + 0.5) / 25
    assert frames[(times > 0.1) & (times < 0.2)].all() and frames[(times > 1.5) & (times < 1.9)].all()
    assert not frames[(times > 0.25) & (times < 1.45)].any()


def test_onnx_parity_and_the_runtime_generator(tmp_path):
    torch.manual_seed(0)
    model = Audio2Exp(TINY).eval()
    path = export_audio2exp(model, tmp_path)
    assert parity(model, path) < 1e-4 and parity(model, path, frames=1, batch=3) < 1e-4
    runtime = load_expression_generator(tmp_path)
    assert runtime.context == TINY.context
    audio = _speech_like(2.0, seed=4)
    assert (
        np.abs(runtime.whole(audio, SAMPLE_RATE, "sad") - _generator(model).whole(audio, SAMPLE_RATE, "sad")).max()
        < 1e-4
    )


def test_training_lowers_the_loss_and_silence_closes_the_mouth(tiny_run, tiny_dataset):
    out, report = tiny_run
    losses = [h["val"]["l1"] for h in report["history"]]
    assert losses[-1] < 0.7 * losses[0]
    model = load_audio2exp(out)
    assert model.config == TINY and not torch.equal(model.feature_std, torch.ones_like(model.feature_std))
    generator = _generator(model)
    silence = np.repeat(silence_features()[None], 50, axis=0)
    for emotion in ("neutral", "surprised", "angry"):
        assert generator.run(silence, emotion)[:, JAW].max() < 0.05
    report = evaluate_audio2exp(model, tiny_dataset)
    assert report["all"]["frames"] > 0 and 0 <= report["emotion_recovered"] <= 1


def test_finetuning_starts_from_the_trained_model(tiny_run, tiny_dataset, tmp_path):
    base, _ = tiny_run
    report = train_audio2exp(tiny_dataset, tmp_path / "ft", preset("finetune", steps=6, checkpoint_every=3),
                             init=base)  # fmt: skip
    assert report["finetuned_from"] == str(base)
    tuned, original = load_audio2exp(tmp_path / "ft"), load_audio2exp(base)
    assert tuned.config == original.config  # the architecture comes from the model, not the preset
    assert torch.equal(tuned.feature_mean, original.feature_mean)
    delta = max((a - b).abs().max().item() for a, b in zip(tuned.parameters(), original.parameters(), strict=True))
    assert 0 < delta < 0.05  # moved, gently
    saved = json.loads((tmp_path / "ft" / "checkpoint" / "trainer.json").read_text())
    assert saved["step"] == 6


def test_leed_is_built_from_silence_with_the_trained_model(tiny_run):
    from eai_avatar.export.audio2exp.leed import build_leed
    from eai_avatar.vocabulary import EMOTIONS

    generator = _generator(load_audio2exp(tiny_run[0]))
    leed = build_leed({"ada": generator, "bo": generator}, per_emotion=2, seconds=4.0)
    assert leed.identities() == ("ada", "bo") and leed.emotions("ada") == tuple(EMOTIONS)
    listening = leed.retrieve("bo", "surprised", 300, np.random.default_rng(0))
    assert listening.shape == (300, 52) and listening[:, JAW].max() < 0.05  # a listener's mouth rests
    blink = listening[:, BLINK_LEFT]
    assert blink.max() > 0.9 and np.median(blink) < 0.3  # the eyes blink now and then, open otherwise
    a, b = leed.sequences("ada", "happy")
    assert not np.array_equal(a, b)  # two takes, not one copied


BLINK_LEFT = BLENDSHAPE_INDEX["eyeBlinkLeft"]


def test_speech_folders_join_training_and_teach_only_the_mouth(tiny_dataset, tmp_path):
    from eai_avatar.export.audio2exp.data import sample_windows
    from eai_avatar.export.audio2exp.speech_data import LIP_SYNC_MASK, load_speech_examples
    from tests.export.speech_folders import espeak_speech_folder

    folder = espeak_speech_folder(tmp_path / "speech", [("Bob met a man by the map.", "de"),
                                                                ("Pam bought a big plum.", "fr")],
                                        silence_s=0.0)  # a wave that starts on its first sound  # fmt: skip
    examples = load_speech_examples([folder], copies=2, seed=1)
    assert len(examples) == 6 and len({e["voice"] for e in examples}) == 2
    clean, augmented = examples[0], examples[1]
    assert not np.array_equal(clean["features"], augmented["features"])  # another voice of the same words
    jaw = BLENDSHAPE_INDEX["jawOpen"]
    assert clean["blendshapes"][:, jaw].max() > 0.3  # it opens for the vowels...
    assert clean["blendshapes"][[0, 1, -2, -1], jaw].max() < 0.01  # ...and rests at both ends, which are silent
    assert np.allclose(clean["features"][0], clean["features"][-1])
    again = load_speech_examples([folder], copies=2, seed=1)
    assert np.array_equal(again[2]["features"], examples[2]["features"])  # seeded: the same copies every time
    batch = sample_windows(examples, 4, 20, 4, np.random.default_rng(0))
    assert np.array_equal(batch["mask"][0], LIP_SYNC_MASK) and 0 < LIP_SYNC_MASK.sum() < len(LIP_SYNC_MASK)
    studio = sample_windows(load_examples_for(tiny_dataset), 2, 20, 4, np.random.default_rng(0))
    assert (studio["mask"] == 1).all()  # the studio's clips teach the whole face

    report = train_audio2exp(tiny_dataset, tmp_path / "run", preset("tiny", steps=4, checkpoint_every=2),
                             speech=[folder], speech_copies=1)  # fmt: skip
    assert report["train_examples"] == report["studio_examples"] + 4 and report["speech_folders"] == [str(folder)]


def load_examples_for(dataset):
    from eai_avatar.export.audio2exp.data import load_examples

    return load_examples(dataset, "train")


def test_a_retrained_audio2exp_replaces_the_bundles_and_nothing_else(tiny_run, tmp_path):
    import shutil

    from eai_avatar.export.bundle import replace_audio2exp
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path

    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_path(), bundle)
    before = json.loads((bundle / "manifest.json").read_text())
    with pytest.raises(ValueError, match="precision"):
        replace_audio2exp(bundle, tiny_run[0], "int4")
    manifest = replace_audio2exp(bundle, tiny_run[0])
    after = json.loads((bundle / "manifest.json").read_text())
    for name in ("crhmg_encoder", "crhmg_generator", "renderer"):
        assert after["models"][name] == before["models"][name]  # untouched
    assert after["models"]["audio2exp"]["sha256"] != before["models"]["audio2exp"]["sha256"]
    assert after["assets"]["leed"]["sha256"] != before["assets"]["leed"]["sha256"]  # LEED rebuilt by the new model
    assert after["identities"] == before["identities"] and after["assets"]["tokenizer"] == before["assets"]["tokenizer"]
    export = manifest.models["audio2exp"].export
    assert export["parity_fp32"] < 1e-4 and export["precision"] == "fp16-weights" and export["trained"]
    loaded = Bundle(bundle)  # verifies every hash and shape
    assert loaded.manifest.models["audio2exp"].export == export
