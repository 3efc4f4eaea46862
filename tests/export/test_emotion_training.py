"""Training the head for real on a small set, fusing a second modality, and the held-out file's shape."""

import numpy as np
import pytest

from eai_avatar.export.emotion.evaluate import evaluate, load_labelled_tsv, to_markdown
from eai_avatar.export.emotion.train import TrainConfig, fit_block, split_indices, train_head
from eai_avatar.runtime.emotion import EmotionHead, EmotionRecognizer, ProsodyEncoder
from eai_avatar.vocabulary import EMOTIONS

SMALL_SET = {
    "angry": ["How dare you lie to me!", "Get out of my room right now!", "You wrecked my car, you idiot!"],
    "contempt": ["Oh please, you could never win.", "How pathetic, as usual.", "As if anyone cares what you think."],
    "disgusted": [
        "Ew, the milk is rotten and it stinks.",
        "There are maggots in the bin, gross!",
        "That slime is vile.",
    ],
    "fear": [
        "I'm terrified of what the doctor will say.",
        "Someone is outside the window!",
        "What if the plane crashes?",
    ],
    "happy": ["I got the job, this is wonderful!", "We're having a baby, I'm overjoyed!", "Best day ever, we won!"],
    "neutral": ["The meeting is at three.", "Please pass the salt.", "The bus leaves from platform two."],
    "sad": ["My grandmother passed away last night.", "I miss you so much it hurts.", "Nobody came to my party."],
    "surprised": ["Wait, you're engaged?!", "No way, you did that yourself?", "I can't believe it's snowing in June!"],
}


def _small_set():
    texts = [t for e in EMOTIONS for t in SMALL_SET[e]]
    labels = [e for e in EMOTIONS for _ in SMALL_SET[e]]
    return texts, labels


@pytest.fixture(scope="module")
def trained_head(embedder_module):
    texts, labels = _small_set()
    head, report = train_head(texts, labels, TrainConfig(val_fraction=0.34, steps=150), embedder=embedder_module)
    return head, report


@pytest.fixture(scope="module")
def embedder_module():
    from eai_avatar.runtime.emotion import SentenceEmbedder

    return SentenceEmbedder(threads=2)


def test_training_fits_the_training_lines(trained_head, embedder_module):
    head, report = trained_head
    recognizer = EmotionRecognizer(head=head, embedder=embedder_module)
    texts, labels = _small_set()
    predicted = [e.label for e in recognizer.recognize_batch(texts)]
    assert np.mean(np.array(predicted) == np.array(labels)) == 1.0
    assert report["lines"] == 24 and report["l2"] in TrainConfig().l2_grid
    estimate = recognizer.recognize("I just won the lottery, I'm so happy!")
    assert estimate.label == "happy" and 1 / 8 < estimate.confidence <= 1
    assert sum(estimate.distribution) == pytest.approx(1.0, abs=1e-5)


def test_fit_lowers_the_loss_with_more_steps():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(8, 16))
    labels = np.repeat(np.arange(8), 20)
    features = centers[labels] + rng.normal(scale=1.5, size=(160, 16))

    def loss(block):
        logits = block.logits(features)
        logits -= logits.max(axis=1, keepdims=True)
        return -np.mean(logits[np.arange(160), labels] - np.log(np.exp(logits).sum(axis=1)))

    short, long = fit_block(features, labels, "f", steps=5), fit_block(features, labels, "f", steps=200)
    assert loss(long) < loss(short) < np.log(8) + 1e-6


def test_a_second_modality_fuses_into_eq8(trained_head, embedder_module, tmp_path):
    head, _ = trained_head
    # A prosody block that reads loudness as anger: with loud audio the same words come out angry.
    encoder = ProsodyEncoder()
    weight = np.zeros((encoder.dim, len(EMOTIONS)), np.float32)
    weight[3, EMOTIONS.index("angry")] = 20.0  # energy_mean_db, standardized
    from eai_avatar.runtime.emotion.head import ModalityWeights

    audio_block = ModalityWeights(
        encoder.feature_name, weight, np.zeros(8, np.float32), np.full(encoder.dim, -30, np.float32),
        np.full(encoder.dim, 10, np.float32),
    )  # fmt: skip
    fused = EmotionHead(head.modalities | {"audio": audio_block}, EMOTIONS, {})
    fused.save(tmp_path / "fused.npz")
    recognizer = EmotionRecognizer(head=tmp_path / "fused.npz", embedder=embedder_module)
    text = "The bus leaves from platform two."
    t = np.arange(16_000) / 16_000
    loud = (0.8 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    assert recognizer.recognize(text).label == "neutral"
    assert recognizer.recognize(text, audio={"audio": loud, "sample_rate": 16_000}).label == "angry"
    text_only = EmotionRecognizer(head=head, embedder=embedder_module)
    with pytest.raises(ValueError, match="no block for \\['audio'\\]"):
        text_only.recognize(text, audio={"audio": loud, "sample_rate": 16_000})
    with pytest.raises(ValueError, match="no encoder for modality 'video'"):
        text_only.recognize(text, video={"frames": []})


@pytest.mark.parametrize("bad", ["", "   ", None, 42, "x" * 2001])
def test_bad_text_is_a_clear_error(trained_head, embedder_module, bad):
    recognizer = EmotionRecognizer(head=trained_head[0], embedder=embedder_module)
    with pytest.raises(ValueError, match="utterance"):
        recognizer.recognize(bad)


def test_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(8), 10)
    train, val = split_indices(labels, 0.2, seed=3)
    assert len(set(train) & set(val)) == 0 and len(train) + len(val) == 80
    assert np.all(np.bincount(labels[val]) == 2)


def test_the_heldout_set_is_large_and_balanced():
    texts, labels = load_labelled_tsv()
    assert len(texts) >= 200 and len(set(texts)) == len(texts)
    assert {label: labels.count(label) for label in EMOTIONS} == dict.fromkeys(EMOTIONS, 40)


def test_calibration_error():
    from eai_avatar.export.emotion.evaluate import expected_calibration_error

    confidence = np.array([0.9, 0.9, 0.9, 0.9, 0.6, 0.6])
    correct = np.array([True, True, True, False, True, False])
    # bin 0.9: accuracy .75 vs .9 (weight 4/6); bin 0.6: accuracy .5 vs .6 (weight 2/6)
    assert expected_calibration_error(confidence, correct) == pytest.approx(4 / 6 * 0.15 + 2 / 6 * 0.1)
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == 0.0


def test_evaluation_report(trained_head, embedder_module, tmp_path):
    recognizer = EmotionRecognizer(head=trained_head[0], embedder=embedder_module)
    texts, labels = _small_set()
    report = evaluate(recognizer, texts, labels)
    assert report["accuracy"] == 1.0 and report["lines"] == 24
    assert np.trace(np.array(report["confusion"]["rows_true_columns_predicted"])) == 24
    assert "| happy |" in to_markdown(report)
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\nhappy\thi\n")
    with pytest.raises(ValueError, match="first line"):
        load_labelled_tsv(bad)
    bad.write_text("emotion\ttext\njoy\thi\n")
    with pytest.raises(ValueError, match="unknown emotion 'joy'"):
        load_labelled_tsv(bad)


def test_decontamination_drops_near_copies_of_heldout_lines():
    from eai_avatar.export.emotion.train import drop_near_duplicates

    texts = ["Do you want tea or coffee, Eli?", "The cat is asleep on the sofa.", "We won the cup!"]
    labels = ["neutral", "neutral", "happy"]
    kept, kept_labels, removed = drop_near_duplicates(texts, labels, ["Do you want tea or coffee?"])
    assert removed == ["Do you want tea or coffee, Eli?"]
    assert kept == texts[1:] and kept_labels == labels[1:]
