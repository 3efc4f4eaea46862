"""The LLM prompt (with the tree's emotion context) and the clean-up of the model's reply."""

import pytest

from eai_avatar.runtime.dialogue import DialogueContext, DialogueLine
from eai_avatar.runtime.dialogue.prompt import build_messages, build_system_prompt, clean_stream


def make_context(**overrides):
    fields = {
        "characters": ("ada", "ben"),
        "display_names": {"ada": "Ada", "ben": "Ben"},
        "personas": {"ada": "a cheerful baker", "ben": "a grumpy lighthouse keeper."},
        "topic": "the storm last night",
        "history": [DialogueLine("ada", "Morning!"), DialogueLine("ben", "Is it?")],
        "emotions": {"ada": "happy", "ben": "angry"},
    }
    return DialogueContext(**(fields | overrides))


def test_system_prompt_carries_both_emotions_personas_and_topic():
    prompt = build_system_prompt(make_context())
    assert "Ada currently feels happy" in prompt
    assert "Ben currently feels angry" in prompt
    assert "Ada is a cheerful baker." in prompt and "Ben is a grumpy lighthouse keeper." in prompt
    assert "Topic: the storm last night." in prompt
    assert "You speak as Ada" in prompt and "Write Ada's next line" in prompt
    assert "at most 30 words" in prompt and "no stage directions" in prompt and "no name prefix" in prompt
    untitled = build_system_prompt(make_context(topic="", personas={}), topic="bread")
    assert "Topic: bread." in untitled and " is a " not in untitled


def test_history_becomes_alternating_turns_of_the_next_speaker():
    messages = build_messages(make_context())
    # Ada's own line comes first, so a stand-in user turn opens (chat templates want a user turn first).
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2:] == [{"role": "assistant", "content": "Morning!"}, {"role": "user", "content": "Is it?"}]
    # Two lines of one speaker in a row join into one turn; a stand-in closes on a user turn.
    history = [DialogueLine("ben", "Hey."), DialogueLine("ada", "Hi."), DialogueLine("ada", "Cold today.")]
    messages = build_messages(make_context(history=history, next_speaker="ada"))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Hi.\nCold today."
    opening = build_messages(make_context(history=[]), max_history=0)
    assert [m["role"] for m in opening] == ["system", "user"]
    assert len(build_messages(make_context(history=history * 10), max_history=4)) <= 6


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["Ad", "a: Hello", " there."], "Hello there."),
        (["**Ada**", ":", " Hi."], "Hi."),
        (["  ben:Oh", " dear."], "Oh dear."),
        (["Note: bring an umbrella."], "Note: bring an umbrella."),
        (["Yes."], "Yes."),
        (["\n", "Fine, thanks.\n", "Ben: And you?"], "Fine, thanks."),
        (["A long enough line that needs no colon to be sure, ", "so it streams."], None),
    ],
)
def test_clean_stream_strips_a_name_prefix_and_stops_at_a_line_break(pieces, expected):
    out = list(clean_stream(iter(pieces), make_context(), "test"))
    assert "".join(out).strip() == (expected or "".join(pieces))


def test_clean_stream_streams_before_the_line_ends():
    pieces = ["A long enough line that needs no colon to be sure, ", "so it ", "streams."]
    assert list(clean_stream(iter(pieces), make_context(), "test")) == pieces


def test_empty_reply_is_an_error():
    with pytest.raises(RuntimeError, match="test dialogue backend returned an empty line for 'ada'"):
        list(clean_stream(iter(["Ada:", "  ", "\n"]), make_context(), "test"))
