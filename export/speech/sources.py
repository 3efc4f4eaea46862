"""The speech sources by family name, and voices named "family:voice"."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from eai_avatar.export.speech.base import MissingProgramError, SpeechSource, refuse_reserved

#: family -> (module, class): imported only when asked for, so a missing synthesizer costs nothing until used.
FAMILIES: dict[str, tuple[str, str]] = {
    "espeak": ("eai_avatar.export.speech.espeak", "EspeakSource"),
    "festival": ("eai_avatar.export.speech.festival", "FestivalSource"),
    "flite": ("eai_avatar.export.speech.flite", "FliteSource"),
}


def create_source(family: str) -> SpeechSource:
    """The source of `family`; ValueError for an unknown family, MissingProgramError / ImportError when this
    machine lacks its synthesizer (the message says what to install)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown speech source {family!r}; choose one of {', '.join(FAMILIES)}")
    module_name, class_name = FAMILIES[family]
    return getattr(importlib.import_module(module_name), class_name)()


def parse_voice(label: str) -> tuple[str, str]:
    """ "family:voice" -> (family, voice); ValueError for a reserved voice, an unknown family or a missing part."""
    family, colon, voice = str(label).strip().partition(":")
    refuse_reserved(label)
    if not colon or not voice or family not in FAMILIES:
        raise ValueError(f"a voice is family:voice with family one of {', '.join(FAMILIES)}, got {label!r}")
    return family, voice


@dataclass(frozen=True)
class SourceStatus:
    """What one family offers on this machine: its voices and program version, or why it is unavailable."""

    family: str
    voices: tuple[str, ...] = ()
    version: str = ""
    unavailable: str = ""


def source_statuses() -> list[SourceStatus]:
    """Every family's status here (for `eai-avatar data speech --list`); runs each program once, speaks nothing."""
    statuses = []
    for family in FAMILIES:
        try:
            source = create_source(family)
            statuses.append(SourceStatus(family, tuple(source.voices()), source.program_version()))
        except (MissingProgramError, ImportError, RuntimeError, OSError) as exc:
            statuses.append(SourceStatus(family, unavailable=str(exc)))
    return statuses
