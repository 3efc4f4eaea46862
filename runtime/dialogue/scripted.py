"""Scripted dialogues: written conversations shipped as YAML, offline and repeatable (the default backend).

A dialogue file holds lines for two roles, "A" and "B", which map to the session's first and second character;
`{A}` and `{B}` in a line become their display names. Each line may carry an `emotion` hint (one of the 8
labels). The conversation never ends: after a dialogue's last line the next one follows, in an order fixed by
the seed. Format:

    title: The surprise party          # optional
    description: ...                   # optional
    lines:
      - role: A                        # the first line is role A; roles alternate
        emotion: sad                   # optional
        text: "Hey {B}. Long day."
"""

from __future__ import annotations

import bisect
import random
import string
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from eai_avatar.runtime.dialogue.base import DialogueBackend, DialogueContext, DialogueLine
from eai_avatar.vocabulary import EMOTIONS

#: Where the shipped dialogues live; a dialogue's name is its file name without the suffix.
DIALOGUES_DIR = Path(__file__).resolve().parent.parent / "assets" / "dialogues"
ROLES = ("A", "B")
_SUFFIXES = (".yaml", ".yml")
_TOP_KEYS = ("title", "description", "lines")
_LINE_KEYS = ("role", "text", "emotion")


@dataclass(frozen=True)
class ScriptLine:
    role: str  # "A" or "B"
    text: str  # may hold {A} and {B}
    emotion: str | None = None


@dataclass(frozen=True)
class Dialogue:
    name: str
    title: str
    description: str
    lines: tuple[ScriptLine, ...]
    path: Path


class _Mapping(dict):
    """A YAML mapping that remembers its line, so validation errors can point at the file's line."""

    line = 0


class _Sequence(list):
    line = 0
    item_lines: tuple[int, ...] = ()


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry 1-based line numbers."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode):
    data = _Mapping()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode):
    data = _Sequence()
    data.line = node.start_mark.line + 1
    data.item_lines = tuple(item.start_mark.line + 1 for item in node.value)
    yield data
    data.extend(loader.construct_sequence(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def _kind(value: object) -> str:
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else repr(value)


def _check_placeholders(text: str, where: str) -> None:
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)]
    except ValueError as exc:
        raise ValueError(f"{where}: bad braces in {text!r} ({exc}); write {{{{ and }}}} for literal braces") from None
    for name, spec, conversion in fields:
        if name is not None and (name not in ROLES or spec or conversion):
            raise ValueError(f"{where}: unknown placeholder {{{name}}} in text {text!r}; use {{A}} or {{B}}")


def _parse_line(item: object, index: int, line_no: int, where_file: str) -> ScriptLine:
    where = f"{where_file}, line {line_no} (lines[{index}])"
    if not isinstance(item, dict):
        raise ValueError(f"{where}: each line must be a mapping with role and text, got {item!r}")
    unknown = sorted(set(item) - set(_LINE_KEYS), key=str)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; a line has {', '.join(_LINE_KEYS)}")
    for key in ("role", "text"):
        if key not in item:
            raise ValueError(f"{where}: missing {key!r}")
    role, text, emotion = item["role"], item["text"], item.get("emotion")
    if role not in ROLES:
        raise ValueError(f"{where}: unknown role {role!r}; expected 'A' or 'B'")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: text must be a non-empty string (quote it), got {text!r}")
    _check_placeholders(text, where)
    if emotion is not None and emotion not in EMOTIONS:
        raise ValueError(f"{where}: unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    return ScriptLine(role=role, text=text.strip(), emotion=emotion)


def load_dialogue(path: str | Path) -> Dialogue:
    """Read and validate one dialogue file; ValueError naming the file, the line number and the problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as stream:  # a file stream, so YAML's own errors name the file too
            data = yaml.load(stream, Loader=_LineLoader)  # a SafeLoader: no object tags
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"dialogue file {path}: cannot read it as UTF-8 text ({exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"dialogue file {path}: invalid YAML: {exc}") from None
    where_file = f"dialogue file {path}"
    if not isinstance(data, _Mapping):
        raise ValueError(f"{where_file}: expected a mapping with 'lines' at the top, got {_kind(data)}")
    unknown = sorted(set(data) - set(_TOP_KEYS), key=str)
    if unknown:
        raise ValueError(f"{where_file}, line {data.line}: unknown key(s) {unknown}; expected {', '.join(_TOP_KEYS)}")
    for key in ("title", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ValueError(f"{where_file}: {key!r} must be a string, got {data[key]!r}")
    lines = data.get("lines")
    if not isinstance(lines, _Sequence) or len(lines) < 2:
        raise ValueError(f"{where_file}, line {data.line}: 'lines' must be a list of at least 2 lines, got {lines!r}")
    parsed = tuple(_parse_line(item, i, lines.item_lines[i], where_file) for i, item in enumerate(lines))
    # Role A opens and the roles alternate, so dialogues can follow each other without anyone speaking twice.
    if parsed[0].role != "A":
        raise ValueError(f"{where_file}, line {lines.item_lines[0]} (lines[0]): the first line must be role 'A'")
    for i in range(1, len(parsed)):
        if parsed[i].role == parsed[i - 1].role:
            raise ValueError(
                f"{where_file}, line {lines.item_lines[i]} (lines[{i}]): roles must alternate, "
                f"but role {parsed[i].role!r} speaks twice in a row"
            )
    return Dialogue(
        name=path.stem,
        title=data.get("title") or path.stem,
        description=data.get("description", ""),
        lines=parsed,
        path=path,
    )


def load_dialogues(directory: str | Path = DIALOGUES_DIR) -> dict[str, Dialogue]:
    """Every dialogue file in `directory`, validated, by name in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"dialogue folder {directory} does not exist")
    dialogues: dict[str, Dialogue] = {}
    for path in sorted(p for p in directory.iterdir() if p.suffix in _SUFFIXES and p.is_file()):
        if path.stem in dialogues:
            raise ValueError(f"dialogue {path.stem!r} is defined twice: {dialogues[path.stem].path} and {path}")
        dialogues[path.stem] = load_dialogue(path)
    if not dialogues:
        raise ValueError(f"dialogue folder {directory} holds no {' or '.join(_SUFFIXES)} files")
    return dict(sorted(dialogues.items()))


def list_dialogues(directory: str | Path = DIALOGUES_DIR) -> list[str]:
    """The names a session's `dialogue_topic` may pick, sorted."""
    return list(load_dialogues(directory))


@dataclass(frozen=True)
class _Segment:
    """One dialogue's place in the endless conversation."""

    dialogue: Dialogue
    start: int  # conversation index of its first line
    swapped: bool  # True when role A is played by characters[1]


class ScriptedBackend(DialogueBackend):
    """Lines from the shipped (or given) dialogues, one after another without end.

    The conversation is a fixed sequence for a given (topic, seed). Which line comes next follows from the
    context alone: the first line at or after position len(history) that `next_speaker` speaks. So a restored
    session continues where it stopped, and in HUMAN_AGENT mode the human plays role A while the agent's lines
    stay in step.
    """

    name = "scripted"
    OPTIONS = ("dialogues_dir",)

    def __init__(self, topic: str = "", seed: int | None = None, dialogues_dir: str | Path | None = None):
        self.dialogues = load_dialogues(DIALOGUES_DIR if dialogues_dir is None else dialogues_dir)
        names = list(self.dialogues)
        topic = (topic or "").strip()
        if topic and topic not in self.dialogues:
            raise ValueError(f"unknown scripted dialogue {topic!r}; expected one of {', '.join(names)}")
        self._rng = random.Random(seed)
        first = topic or self._rng.choice(names)
        self._segments = [_Segment(self.dialogues[first], 0, swapped=False)]
        self._starts = [0]
        # The rest of the first round: every other dialogue plays once before any repeats.
        self._queue = [name for name in names if name != first]
        self._rng.shuffle(self._queue)
        self._lock = threading.Lock()
        self._last_index = -1  # the script position of the line said last

    @property
    def first_dialogue(self) -> str:
        return self._segments[0].dialogue.name

    def _next_name(self, previous: str) -> str:
        # Then shuffled rounds over all dialogues, never the same one twice running.
        if not self._queue:
            self._queue = list(self.dialogues)
            self._rng.shuffle(self._queue)
            if len(self._queue) > 1 and self._queue[0] == previous:
                self._queue.append(self._queue.pop(0))
        return self._queue.pop(0)

    def _segment_at(self, index: int) -> _Segment:
        while index >= self._segments[-1].start + len(self._segments[-1].dialogue.lines):
            last = self._segments[-1]
            dialogue = self.dialogues[self._next_name(last.dialogue.name)]
            last_speaker = ROLES.index(last.dialogue.lines[-1].role) ^ last.swapped
            # The next dialogue opens with the character who did not speak last, so speakers keep alternating.
            swapped = bool(ROLES.index(dialogue.lines[0].role) ^ last_speaker ^ 1)
            self._segments.append(_Segment(dialogue, last.start + len(last.dialogue.lines), swapped))
            self._starts.append(self._segments[-1].start)
        return self._segments[bisect.bisect_right(self._starts, index) - 1]

    def line_at(self, index: int, characters: tuple[str, str]) -> tuple[str, ScriptLine, _Segment]:
        """The speaker (an identity of `characters`) and script line at conversation position `index`."""
        if index < 0:
            raise ValueError(f"conversation index must be >= 0, got {index}")
        with self._lock:
            segment = self._segment_at(index)
        line = segment.dialogue.lines[index - segment.start]
        return characters[ROLES.index(line.role) ^ segment.swapped], line, segment

    def next_line(self, context: DialogueContext) -> DialogueLine:
        # Never a line already said: one character asked again and again (the agent in HUMAN_AGENT mode, whose
        # partner's lines come from a person) walks on through the script instead of repeating its line.
        index = max(context.position, self._last_index + 1)
        speaker, line, segment = self.line_at(index, context.characters)
        if speaker != context.next_speaker:
            # Roles alternate, so the next position is the asked-for speaker's.
            index += 1
            speaker, line, segment = self.line_at(index, context.characters)
        self._last_index = index
        players = context.characters[::-1] if segment.swapped else context.characters
        text = line.text.format(A=context.display_name(players[0]), B=context.display_name(players[1]))
        return DialogueLine(speaker=speaker, text=text, emotion_hint=line.emotion)
