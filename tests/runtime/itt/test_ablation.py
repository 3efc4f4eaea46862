"""The ITT ablation on the shipped dialogues, with a recognizer that knows the authors' labels."""

from eai_avatar.runtime.dialogue.scripted import load_dialogues
from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.itt.ablation import ablate


def test_a_perfect_recognizer_makes_current_node_only_exact_and_itt_steadier():
    dialogues = load_dialogues()
    meant = {line.text: line.emotion or "neutral" for d in dialogues.values() for line in d.lines}
    report = ablate(lambda text: EmotionEstimate.certain(meant[text]), dialogues)
    assert report["turns"] == sum(len(d.lines) for d in dialogues.values())
    assert report["current_node_only"]["speaker_agreement"] == 1.0  # C is the author: the node is the label
    assert report["without_itt"]["changes_per_turn"] == 0.0
    labelled = [line.emotion for d in dialogues.values() for line in d.lines if line.emotion]
    assert abs(report["without_itt"]["speaker_agreement"] - labelled.count("neutral") / len(labelled)) < 1e-9
    # Q accumulates: it changes a face less often than the per-line emotion does, and lags behind the labels
    assert report["itt"]["changes_per_turn"] < report["current_node_only"]["changes_per_turn"]
    assert report["itt"]["speaker_agreement"] < 1.0
