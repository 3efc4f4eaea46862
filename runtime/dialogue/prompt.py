"""The chat prompt every LLM backend uses, and the clean-up of what the model writes back.

The system prompt carries the Interactive Talking Tree's emotion context (each character's accumulated emotion
Q), so the next line follows the emotional course of the conversation (paper section 3.2). The model plays
`next_speaker`: that character's earlier lines are its "assistant" turns and the other character's are "user"
turns, so the history alternates the way chat templates expect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from eai_avatar.runtime.dialogue.base import DialogueContext

#: The longest line the prompt asks for, in words.
MAX_WORDS = 30
#: Lines of history sent by default: enough for the thread of the talk, bounded for an endless conversation.
DEFAULT_MAX_HISTORY = 20


def build_system_prompt(context: DialogueContext, topic: str = "") -> str:
    """Both characters, their personas, the topic and the emotion context, then what to write."""
    a, b = context.characters
    name_a, name_b = context.display_name(a), context.display_name(b)
    speaker = context.next_speaker
    speaker_name, listener_name = context.display_name(speaker), context.display_name(context.other(speaker))
    parts = [
        f"You are writing a spoken conversation between two characters, {name_a} and {name_b}. "
        f"You speak as {speaker_name}; the user speaks as {listener_name}."
    ]
    for name in (a, b):
        persona = context.persona(name).rstrip(".")
        if persona:
            parts.append(f"{context.display_name(name)} is {persona}.")
    topic = (context.topic or topic).strip()
    parts.append(f"Topic: {topic}." if topic else "They talk about whatever comes naturally.")
    parts.append(
        "Emotional context from the conversation so far: "
        f"{name_a} currently feels {context.emotion(a)}. {name_b} currently feels {context.emotion(b)}."
    )
    parts.append(
        f"Write {speaker_name}'s next line: one short line of at most {MAX_WORDS} words that answers what was just "
        f"said and fits how {speaker_name} feels. Spoken words only: no stage directions, no actions, no quotation "
        "marks, and no name prefix."
    )
    return "\n".join(parts)


def build_messages(
    context: DialogueContext, topic: str = "", max_history: int = DEFAULT_MAX_HISTORY
) -> list[dict[str, str]]:
    """OpenAI-style chat messages: the system prompt, then the last `max_history` lines as alternating turns."""
    if max_history < 0:
        raise ValueError(f"max_history must be >= 0, got {max_history}")
    speaker = context.next_speaker
    listener_name = context.display_name(context.other(speaker))
    messages: list[dict[str, str]] = []
    for line in context.history[len(context.history) - max_history :] if max_history else []:
        role = "assistant" if line.speaker == speaker else "user"
        if messages and messages[-1]["role"] == role:
            # Strict templates (llama.cpp, Mistral) refuse two turns of one role in a row: join them.
            messages[-1]["content"] += "\n" + line.text
        else:
            messages.append({"role": role, "content": line.text})
    # Chat templates want a user turn first and last; stand-ins say what the silence means.
    if not messages or messages[0]["role"] == "assistant":
        messages.insert(0, {"role": "user", "content": f"({listener_name} is here with you. Begin.)"})
    if messages[-1]["role"] == "assistant":
        messages.append({"role": "user", "content": f"({listener_name} says nothing and waits for you to go on.)"})
    return [{"role": "system", "content": build_system_prompt(context, topic)}, *messages]


def _name_prefix(context: DialogueContext) -> re.Pattern[str]:
    names = {context.display_name(c) for c in context.characters} | set(context.characters)
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    # "Ada:", "**Ada**:", "**Ada:**", with any spacing; either character, since the line is the speaker's anyway.
    return re.compile(rf"^\s*\**\s*(?:{alternatives})\s*\**\s*:\s*\**\s*", re.IGNORECASE)


def clean_stream(pieces: Iterable[str], context: DialogueContext, backend: str) -> Iterator[str]:
    """The model's text pieces without a leading "Name:" and leading spaces, ending at the first line break.

    The start is held back until it is clear whether it is a name prefix (a colon arrives, or more text than any
    prefix could be). RuntimeError when nothing but whitespace comes back.
    """
    prefix = _name_prefix(context)
    longest = max(len(context.display_name(c)) for c in context.characters) + max(map(len, context.characters))
    head: str | None = ""  # None once the start is decided
    wrote = False
    for piece in pieces:
        if not piece:
            continue
        if head is not None:
            head += piece
            if ":" not in head and "\n" not in head.lstrip() and len(head) < longest + 8:
                continue
            piece, head = prefix.sub("", head, count=1).lstrip(), None
        if not wrote:
            piece = piece.lstrip()
        # One line only: models sometimes go on to write the other character's reply on the next line.
        piece, newline, _ = piece.partition("\n")
        if piece:
            wrote = True
            yield piece
        if newline and wrote:
            return
    if head:
        head = prefix.sub("", head, count=1).strip().partition("\n")[0]
        if head:
            wrote = True
            yield head
    if not wrote:
        raise RuntimeError(f"the {backend} dialogue backend returned an empty line for {context.next_speaker!r}")
