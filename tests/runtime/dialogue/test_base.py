"""The shared types of the dialogue backends and the registry."""

import pytest

from eai_avatar.runtime.dialogue import (
    BACKEND_NAMES,
    DialogueBackend,
    DialogueContext,
    DialogueLine,
    create_backend,
)
from eai_avatar.runtime.dialogue.scripted import ScriptedBackend


def test_line_checks_its_emotion_hint():
    assert DialogueLine("ada", "Hi.", "happy").emotion_hint == "happy"
    with pytest.raises(ValueError, match="'gleeful'"):
        DialogueLine("ada", "Hi.", "gleeful")
    with pytest.raises(ValueError, match="text"):
        DialogueLine("ada", "  ")


def test_context_defaults_and_checks():
    context = DialogueContext(characters=("ada", "ben"))
    assert context.next_speaker == "ada"
    assert context.emotion("ben") == "neutral"
    assert context.display_name("ben") == "ben"
    after = DialogueContext(characters=("ada", "ben"), history=[DialogueLine("ada", "Hi.")])
    assert after.next_speaker == "ben"
    with pytest.raises(ValueError, match="'cleo'"):
        DialogueContext(characters=("ada", "ben"), next_speaker="cleo")
    with pytest.raises(ValueError, match="'furious'"):
        DialogueContext(characters=("ada", "ben"), emotions={"ada": "furious"})
    with pytest.raises(ValueError, match="two different"):
        DialogueContext(characters=("ada", "ada"))


def test_default_stream_line_yields_the_whole_line():
    class Echo(DialogueBackend):
        name = "echo"

        def next_line(self, context):
            return DialogueLine(context.next_speaker, "One whole line.")

    assert list(Echo().stream_line(DialogueContext(characters=("ada", "ben")))) == ["One whole line."]


def test_registry():
    assert BACKEND_NAMES == ("scripted", "openai", "local")
    assert isinstance(create_backend("scripted", "", 1), ScriptedBackend)
    assert isinstance(create_backend("", "", 1), ScriptedBackend)  # the proto's default
    with pytest.raises(ValueError, match="unknown dialogue backend 'gpt5'.*scripted, openai, local"):
        create_backend("gpt5", "", 1)
    with pytest.raises(ValueError, match="unknown option.*'scripted'"):
        create_backend("scripted", "", 1, temperature=0.5)
