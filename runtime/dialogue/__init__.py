"""Dialogue backends: who writes the lines of the two characters' conversation (scripted, an OpenAI-compatible
endpoint, or a small local LLM), chosen by name with `create_backend`."""

from eai_avatar.runtime.dialogue.base import (
    BACKEND_NAMES,
    DEFAULT_BACKEND,
    DialogueBackend,
    DialogueContext,
    DialogueLine,
    create_backend,
)
from eai_avatar.runtime.dialogue.scripted import list_dialogues

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_BACKEND",
    "DialogueBackend",
    "DialogueContext",
    "DialogueLine",
    "create_backend",
    "list_dialogues",
]
