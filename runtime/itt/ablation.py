"""The paper's ablation of the Interactive Talking Tree, on the shipped scripted dialogues.

Each dialogue line carries the emotion its author meant (`emotion` in the YAML). Every line is recognized by C and
grown into a tree; then, per turn, each face shows:

- `itt`: Q of its node (eq. 10), the method;
- `current_node_only`: its node's own recognized emotion (the paper's ablation);
- `without_itt`: neutral throughout (no emotion model at all).

Scored against the authors' labels: the speaker's face against the line's emotion, the listener's face against
the emotion of the line it answers with next (how the listener turns out to feel), and how often a face changes
emotion from one turn to the next (expressions that flip every line look erratic).
"""

from __future__ import annotations

from collections.abc import Callable

from eai_avatar.runtime.itt import InteractiveTalkingTree, PropagationOptions, propagate
from eai_avatar.vocabulary import NEUTRAL

VARIANTS = ("itt", "current_node_only", "without_itt")


def ablate(recognize: Callable[[str], object], dialogues: dict | None = None) -> dict:
    """{variant: {speaker_agreement, listener_agreement, changes_per_turn}} plus the counts behind them.

    `recognize(text) -> EmotionEstimate` is C; `dialogues` defaults to the shipped scripted ones.
    """
    if dialogues is None:
        from eai_avatar.runtime.dialogue.scripted import load_dialogues

        dialogues = load_dialogues()
    shown = {variant: [] for variant in VARIANTS}  # (turn, speaker label, listener label, line, next line)
    for dialogue in dialogues.values():
        tree = InteractiveTalkingTree(("A", "B"))
        lines = dialogue.lines
        for index, line in enumerate(lines):
            speak, listen = tree.add_round(line.role, line.text, recognize(line.text))
            following = lines[index + 1].emotion if index + 1 < len(lines) else None
            faces = {
                "itt": (propagate(tree, speak.id).label, propagate(tree, listen.id).label),
                "current_node_only": tuple(
                    propagate(tree, n.id, PropagationOptions(current_node_only=True)).label for n in (speak, listen)
                ),  # fmt: skip
                "without_itt": (NEUTRAL, NEUTRAL),
            }
            for variant, (speaker_face, listener_face) in faces.items():
                shown[variant].append((dialogue.name, line.role, speaker_face, listener_face, line.emotion, following))
    report = {}
    for variant, turns in shown.items():
        speaker = [face == meant for _, _, face, _, meant, _ in turns if meant]
        listener = [face == meant for _, _, _, face, _, meant in turns if meant]
        report[variant] = {"speaker_agreement": sum(speaker) / len(speaker),
                           "listener_agreement": sum(listener) / len(listener),
                           "changes_per_turn": _changes(turns)}  # fmt: skip
    report["turns"] = len(shown["itt"])
    report["dialogues"] = list(dialogues)
    return report


def _changes(turns: list) -> float:
    """How often a character's face shows another emotion than on its previous turn (speaking or listening)."""
    last, changes, count = {}, 0, 0
    for dialogue, role, speaker_face, listener_face, _, _ in turns:
        other = "B" if role == "A" else "A"
        for character, face in ((role, speaker_face), (other, listener_face)):
            key = (dialogue, character)
            if key in last:
                changes += face != last[key]
                count += 1
            last[key] = face
    return changes / max(count, 1)
