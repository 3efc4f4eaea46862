"""How a session and a node are laid out as table rows, shared by every SQL store so that SQLite and PostgreSQL
write and read the same values (JSON text for the lists and the metadata, backward links only)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from eai_avatar.runtime.itt.tree import DialogueState, NodeSource, TalkNode
from eai_avatar.runtime.store.base import SessionRecord, StoreCorrupt

SESSION_COLUMNS = "session_id, characters, created_unix_ms, metadata, clock_ms"
NODE_COLUMNS = (
    "node_id, state, character, text, emotion, confidence, distribution, depth, parent, left_sibling, "
    "source, created_unix_ms, interrupted, spoken_text"
)
NODE_COLUMN_COUNT = len(NODE_COLUMNS.split(","))


def session_row(record: SessionRecord) -> tuple:
    """The values of SESSION_COLUMNS for `record`."""
    characters = json.dumps(list(record.characters))
    return (record.session_id, characters, record.created_unix_ms, json.dumps(record.metadata), record.clock_ms)


def node_row(node: TalkNode) -> tuple:
    """The values of NODE_COLUMNS for `node` (its forward links are left out: they follow from eq. 7)."""
    return (
        node.id,
        node.state.value,
        node.character,
        node.text,
        node.emotion,
        node.confidence,
        json.dumps(list(node.distribution)),
        node.depth,
        node.parent,
        node.left_sibling,
        node.source.value,
        node.created_unix_ms,
        bool(node.interrupted),
        node.spoken_text,
    )


def record_from_row(row: Sequence) -> SessionRecord:
    """A SESSION_COLUMNS row as a record; StoreCorrupt when its JSON is damaged."""
    session_id, characters, created, metadata, clock_ms = row
    try:
        return SessionRecord(session_id, tuple(json.loads(characters)), created, json.loads(metadata), clock_ms)
    except (TypeError, ValueError) as exc:
        raise StoreCorrupt(
            f"the stored record of session {session_id!r} is damaged ({exc}); it cannot be resumed: "
            "close the session, or repair the store"
        ) from None


def nodes_from_rows(session_id: str, rows: Sequence[Sequence]) -> list[TalkNode]:
    """NODE_COLUMNS rows as nodes, forward links unset; StoreCorrupt when a row is damaged."""
    try:
        return [_node(row) for row in rows]
    except (TypeError, ValueError) as exc:
        raise StoreCorrupt(
            f"a stored node of session {session_id!r} is damaged ({exc}); it cannot be resumed: "
            "close the session, or repair the store"
        ) from None


def _node(row: Sequence) -> TalkNode:
    (node_id, state, character, text, emotion, confidence, distribution, depth, parent, left_sibling, source,
     created, interrupted, spoken) = row  # fmt: skip
    return TalkNode(
        id=node_id,
        state=DialogueState(state),
        character=character,
        text=text,
        emotion=emotion,
        confidence=confidence,
        distribution=tuple(json.loads(distribution)),
        depth=depth,
        parent=parent,
        left_sibling=left_sibling,
        source=NodeSource(source),
        created_unix_ms=created,
        interrupted=bool(interrupted),
        spoken_text=spoken,
    )
