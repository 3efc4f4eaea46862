"""Scripted dialogues: the shipped YAML, role mapping, the seed, the endless conversation and broken files."""

import pytest

from eai_avatar.runtime.dialogue import DialogueContext, create_backend, list_dialogues
from eai_avatar.runtime.dialogue.scripted import DIALOGUES_DIR, ScriptedBackend, load_dialogue, load_dialogues
from eai_avatar.vocabulary import EMOTIONS

CHARACTERS = ("ada", "ben")
NAMES = {"ada": "Ada", "ben": "Ben"}


def converse(backend, n: int, characters=CHARACTERS):
    context = DialogueContext(characters=characters, display_names=NAMES)
    for _ in range(n):
        line = backend.next_line(context)
        assert line.speaker == context.next_speaker
        context = DialogueContext(characters=characters, display_names=NAMES, history=[*context.history, line])
    return context.history


def test_shipped_dialogues_validate_with_an_emotional_arc():
    names = list_dialogues()
    assert len(names) >= 3
    for name, dialogue in load_dialogues().items():
        assert dialogue.path.parent == DIALOGUES_DIR
        assert 8 <= len(dialogue.lines) <= 12, name
        assert [line.role for line in dialogue.lines] == ["A", "B"] * (len(dialogue.lines) // 2)
        hints = [line.emotion for line in dialogue.lines if line.emotion is not None]
        assert set(hints) <= set(EMOTIONS), name
        assert len(set(hints)) >= 3, f"{name} has no emotional arc"


def test_lines_alternate_and_roles_map_to_the_characters_in_order():
    backend = create_backend("scripted", topic="surprise-party", seed=1)
    history = converse(backend, 10)
    assert [line.speaker for line in history] == ["ada", "ben"] * 5
    script = load_dialogue(DIALOGUES_DIR / "surprise-party.yaml")
    assert [line.emotion_hint for line in history] == [line.emotion for line in script.lines]
    # {A} and {B} become the display names of the characters that play them.
    assert history[0].text.startswith("Hey Ben.")
    assert "happy birthday, ada" in history[7].text.lower()
    swapped = converse(create_backend("scripted", topic="surprise-party", seed=1), 2, characters=("ben", "ada"))
    assert [line.speaker for line in swapped] == ["ben", "ada"]
    assert swapped[0].text.startswith("Hey Ada.")


def test_same_seed_same_conversation():
    first = converse(create_backend("scripted", seed=7), 40)
    again = converse(create_backend("scripted", seed=7), 40)
    assert first == again
    openers = {ScriptedBackend(seed=seed).first_dialogue for seed in range(12)}
    assert len(openers) > 1  # the seed, not a constant, picks the first dialogue


def test_conversation_continues_past_the_end_of_a_dialogue():
    backend = ScriptedBackend(topic="surprise-party", seed=3)
    length = len(backend.dialogues["surprise-party"].lines)
    history = converse(backend, 3 * 12 + 5)
    speakers = [line.speaker for line in history]
    assert all(a != b for a, b in zip(speakers, speakers[1:], strict=False))
    # Every other dialogue plays before any repeats.
    played = [segment.dialogue.name for segment in backend._segments]
    assert played[0] == "surprise-party" and set(played[:3]) == set(list_dialogues())
    assert history[length].text == backend.dialogues[played[1]].lines[0].text.format(A="Ada", B="Ben")


def test_next_speaker_picks_the_matching_line():
    backend = ScriptedBackend(topic="last-train", seed=0)
    # HUMAN_AGENT mode: the agent (characters[1]) is asked first, so it gets role B's first line.
    line = backend.next_line(DialogueContext(characters=CHARACTERS, display_names=NAMES, next_speaker="ben"))
    assert line.speaker == "ben"
    assert line.text == backend.dialogues["last-train"].lines[1].text


def test_unknown_topic_lists_the_names():
    with pytest.raises(ValueError, match="'opera'.*borrowed-camera.*last-train.*surprise-party"):
        create_backend("scripted", topic="opera", seed=0)


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_odd_length_dialogues_keep_speakers_alternating(tmp_path):
    write(
        tmp_path,
        "odd",
        'lines:\n  - {role: A, text: "One."}\n  - {role: B, text: "Two."}\n  - {role: A, text: "Three."}\n',
    )
    history = converse(ScriptedBackend(seed=0, dialogues_dir=tmp_path), 7)
    assert [line.speaker for line in history] == ["ada", "ben"] * 3 + ["ada"]
    assert [line.text for line in history[:4]] == ["One.", "Two.", "Three.", "One."]


BROKEN = {
    "missing text": (
        "lines:\n  - role: A\n    text: Hi.\n  - role: B\n    emotion: sad\n",
        r"line 4 \(lines\[1\]\): missing 'text'",
    ),
    "unknown emotion": (
        "lines:\n  - role: A\n    text: Hi.\n  - role: B\n    text: Oh.\n    emotion: gloomy\n",
        r"line 4 \(lines\[1\]\): unknown emotion 'gloomy'",
    ),
    "bad role": (
        "lines:\n  - {role: A, text: Hi.}\n  - {role: C, text: Oh.}\n",
        r"line 3 \(lines\[1\]\): unknown role 'C'",
    ),
    "not alternating": ("lines:\n  - {role: A, text: Hi.}\n  - {role: A, text: Oh.}\n", "roles must alternate"),
    "unknown placeholder": ("lines:\n  - {role: A, text: 'Hi {C}.'}\n  - {role: B, text: Oh.}\n", r"placeholder \{C\}"),
    "unknown key": ("lines:\n  - {role: A, text: Hi., emoton: sad}\n  - {role: B, text: Oh.}\n", "'emoton'"),
    "no lines": ("title: Nothing\n", "'lines' must be a list"),
    "bad yaml": ("lines:\n  - role: A\n   text: [unclosed\n", "invalid YAML"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_yaml_names_the_file_and_line(tmp_path, case):
    text, message = BROKEN[case]
    path = write(tmp_path, "broken", text)
    with pytest.raises(ValueError, match=message) as info:
        load_dialogue(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=message):
        create_backend("scripted", seed=0, dialogues_dir=tmp_path)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="holds no"):
        list_dialogues(tmp_path)
