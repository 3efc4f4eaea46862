"""What every dialogue backend shares: the line it writes, the context it writes it from, and the registry.

A backend writes the next line of a two-character conversation (paper section 3.2: two avatars converse, switch
roles and carry emotion). The turn pipeline keeps the history and the Interactive Talking Tree; it hands the
backend a `DialogueContext` with each character's accumulated emotion Q, so an LLM's prompt carries the tree's
emotion context, and turns the returned `DialogueLine` into a `TurnRequest`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

from eai_avatar.vocabulary import EMOTIONS, NEUTRAL


def check_emotion(label: str, what: str) -> str:
    """`label` if it is one of the 8 emotions; ValueError naming `what`, the bad value and the valid set."""
    if label not in EMOTIONS:
        raise ValueError(f"{what}: unknown emotion {label!r}; expected one of {', '.join(EMOTIONS)}")
    return label


@dataclass(frozen=True)
class DialogueLine:
    """One utterance. `emotion_hint` is the author's intended emotion (scripted dialogues), or None (LLMs)."""

    speaker: str  # identity name
    text: str
    emotion_hint: str | None = None

    def __post_init__(self):
        if not isinstance(self.speaker, str) or not self.speaker:
            raise ValueError(f"DialogueLine.speaker must be a non-empty identity name, got {self.speaker!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"DialogueLine.text must be non-empty, got {self.text!r}")
        if self.emotion_hint is not None:
            check_emotion(self.emotion_hint, "DialogueLine.emotion_hint")


@dataclass
class DialogueContext:
    """Everything a backend may use to write the next line.

    `emotions` holds each character's current accumulated emotion label from the tree (Q of its latest node);
    characters without one are neutral. `next_speaker` left empty means the character who did not speak last
    (characters[0] when the history is empty).
    """

    characters: tuple[str, str]  # identity names, in the session's order (role A, role B)
    display_names: dict[str, str] = field(default_factory=dict)  # identity -> name for captions and prompts
    personas: dict[str, str] = field(default_factory=dict)  # identity -> e.g. "a cheerful baker"
    topic: str = ""
    history: list[DialogueLine] = field(default_factory=list)
    emotions: dict[str, str] = field(default_factory=dict)
    next_speaker: str = ""
    # Lines spoken before `history` begins: a long conversation hands over its recent lines only, so a turn at line
    # 4,000 costs what one at line 40 does; `position` is where the conversation stands.
    earlier_lines: int = 0

    def __post_init__(self):
        characters = tuple(self.characters)
        if len(characters) != 2 or not all(isinstance(c, str) and c for c in characters):
            raise ValueError(f"DialogueContext.characters must be two identity names, got {self.characters!r}")
        if characters[0] == characters[1]:
            raise ValueError(f"DialogueContext.characters must be two different identities, got {characters!r}")
        self.characters = characters
        for what, mapping in (("display_names", self.display_names), ("personas", self.personas)):
            for name in mapping:
                self._check_character(name, f"DialogueContext.{what}")
        for name, label in self.emotions.items():
            self._check_character(name, "DialogueContext.emotions")
            check_emotion(label, f"DialogueContext.emotions[{name!r}]")
        for i, line in enumerate(self.history):
            self._check_character(line.speaker, f"DialogueContext.history[{i}].speaker")
        if not self.next_speaker:
            self.next_speaker = self.other(self.history[-1].speaker) if self.history else characters[0]
        self._check_character(self.next_speaker, "DialogueContext.next_speaker")
        if self.earlier_lines < 0:
            raise ValueError(f"DialogueContext.earlier_lines must be >= 0, got {self.earlier_lines}")

    @property
    def position(self) -> int:
        """Lines spoken so far in the whole conversation."""
        return self.earlier_lines + len(self.history)

    def _check_character(self, name: str, what: str) -> None:
        if name not in self.characters:
            raise ValueError(f"{what}: {name!r} is not one of the session's characters {self.characters!r}")

    def other(self, name: str) -> str:
        """The character who is not `name`."""
        self._check_character(name, "DialogueContext.other")
        return self.characters[1] if name == self.characters[0] else self.characters[0]

    def display_name(self, name: str) -> str:
        return self.display_names.get(name) or name

    def persona(self, name: str) -> str:
        return self.personas.get(name, "").strip()

    def emotion(self, name: str) -> str:
        return self.emotions.get(name, NEUTRAL)


class DialogueBackend(ABC):
    """Writes the next line of the conversation from a `DialogueContext`.

    Backends are used by one session; a backend that keeps state guards it, since the pipeline may ask from a
    worker thread.
    """

    name: str

    @abstractmethod
    def next_line(self, context: DialogueContext) -> DialogueLine:
        """The line `context.next_speaker` says next. RuntimeError when the backend cannot produce one."""

    def stream_line(self, context: DialogueContext) -> Iterator[str]:
        """The text of the next line in pieces, as it is written, so TTS can start before the line is complete.

        Joined, the pieces are `next_line(context).text`. Backends that write a line at once yield it whole.
        """
        yield self.next_line(context).text

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing to release
        """Release what the backend holds (a model, a connection). Safe to call twice."""


# name -> (module, class); modules are imported only when chosen, so "local" costs nothing unless used.
_BACKENDS: dict[str, tuple[str, str]] = {
    "scripted": ("eai_avatar.runtime.dialogue.scripted", "ScriptedBackend"),
    "openai": ("eai_avatar.runtime.dialogue.openai", "OpenAIBackend"),
    "local": ("eai_avatar.runtime.dialogue.local", "LocalBackend"),
}
#: The backend a session gets when it names none (session.proto: "scripted" is the default, offline).
DEFAULT_BACKEND = "scripted"
BACKEND_NAMES: tuple[str, ...] = tuple(_BACKENDS)


def create_backend(name: str, topic: str = "", seed: int | None = None, **options) -> DialogueBackend:
    """The dialogue backend called `name` ("scripted", "openai" or "local"; empty = "scripted").

    `topic` is the session's `dialogue_topic` (a shipped dialogue's name for "scripted", a subject for LLMs);
    `seed` makes every choice repeatable (None = random). `options` are the backend's own keyword options;
    an unknown name or option is a ValueError naming it.
    """
    name = name or DEFAULT_BACKEND
    if name not in _BACKENDS:
        raise ValueError(f"unknown dialogue backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}")
    module_name, class_name = _BACKENDS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        accepted = ", ".join(cls.OPTIONS) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for dialogue backend {name!r}; accepted: {accepted}")
    return cls(topic=topic, seed=seed, **options)
