"""The Interactive Talking Tree T = (V, G, Psi, Lambda, S, D) of the paper (section 3.2, eqs. 6-7).

A round of dialogue is one depth of the tree: the speaker's node, then the listener's node as its right
sibling. The next round's speak node is the child of the previous listen node, and its speaker may be
either character, so roles switch naturally (eq. 7: after a speak node comes its right sibling, after a
listen node its child). The paper's example holds: v5 is a speak node at depth 3 with parent v4, no left
sibling, right sibling v6 and no child.

Node ids count from 1 in growth order (v1, v2, ...); 0 is Null in every link.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from eai_avatar.vocabulary import EMOTIONS, emotion_index

NULL = 0


class DialogueState(StrEnum):
    """G = {speak, listen}."""

    SPEAK = "speak"
    LISTEN = "listen"


class NodeSource(StrEnum):
    """Where a node's utterance came from; the paper uses C(text) for generated lines and C(text, audio,
    video) for a real person."""

    SCRIPTED = "scripted"
    LLM = "llm"
    HUMAN = "human"


def _f32(value: float) -> float:
    # Confidences are kept at float32 precision so the tree round-trips exactly through the proto (float).
    return float(np.float32(value))


@dataclass(frozen=True)
class EmotionEstimate:
    """The output of the emotion recognizer C (eqs. 8-9): psi, P and the full softmax over EMOTIONS."""

    label: str
    confidence: float
    distribution: tuple[float, ...]

    def __post_init__(self):
        emotion_index(self.label)  # raises ValueError for an unknown emotion
        if len(self.distribution) != len(EMOTIONS):
            raise ValueError(
                f"distribution needs one value per emotion ({len(EMOTIONS)}), got {len(self.distribution)}"
            )
        values = [*self.distribution, self.confidence]
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise ValueError(f"confidence and distribution must lie in [0, 1]; got {self.confidence}, {values[:-1]}")
        object.__setattr__(self, "confidence", _f32(self.confidence))
        object.__setattr__(self, "distribution", tuple(_f32(v) for v in self.distribution))

    @classmethod
    def from_probabilities(cls, probabilities: Sequence[float]) -> EmotionEstimate:
        """psi = argmax, P = max of a softmax over EMOTIONS (eqs. 8-9)."""
        probs = np.asarray(probabilities, dtype=np.float64)
        best = int(np.argmax(probs))
        return cls(EMOTIONS[best], float(probs[best]), tuple(float(p) for p in probs))

    @classmethod
    def certain(cls, label: str, confidence: float = 1.0) -> EmotionEstimate:
        """An estimate that puts `confidence` on `label` and spreads the rest evenly (an emotion override)."""
        index = emotion_index(label)
        rest = (1.0 - confidence) / (len(EMOTIONS) - 1)
        return cls(label, confidence, tuple(confidence if i == index else rest for i in range(len(EMOTIONS))))


@dataclass(frozen=True)
class Structure:
    """S(v): the structural query's four links (NULL = 0 when absent)."""

    parent: int
    child: int
    left_sibling: int
    right_sibling: int


@dataclass
class TalkNode:
    """A node v of the tree with its annotation Lambda(v) = (G(v), psi_v, P_v) and structure S(v)."""

    id: int
    state: DialogueState
    character: str
    text: str
    emotion: str
    confidence: float
    distribution: tuple[float, ...]
    depth: int
    parent: int = NULL
    child: int = NULL
    left_sibling: int = NULL
    right_sibling: int = NULL
    source: NodeSource = NodeSource.SCRIPTED
    created_unix_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    interrupted: bool = False  # a speak node whose turn stopped early (an Interrupt, a barge-in)
    spoken_text: str = ""  # of an interrupted speak node: the words said before it stopped

    @property
    def estimate(self) -> EmotionEstimate:
        return EmotionEstimate(self.emotion, self.confidence, self.distribution)

    def probability(self, emotion: str) -> float:
        """P_v(psi) as the paper defines it: the node's confidence when psi is its emotion, else 0."""
        return self.confidence if emotion == self.emotion else 0.0


class InteractiveTalkingTree:
    """A dyadic conversation as an Interactive Talking Tree, grown only by eq. 7.

    Args:
        characters: the two characters (identity names) of the conversation, in session order.
    """

    def __init__(self, characters: Sequence[str]):
        characters = tuple(characters)
        if len(characters) != 2 or characters[0] == characters[1] or not all(characters):
            raise ValueError(f"a talking tree needs two distinct, non-empty characters; got {characters!r}")
        self.characters = characters
        self._nodes: list[TalkNode] = []  # index = id - 1
        self._levels: list[list[int]] = []  # depth - 1 -> node ids at that depth, left to right

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[TalkNode]:
        return iter(self._nodes)

    @property
    def nodes(self) -> tuple[TalkNode, ...]:
        """V, in id order."""
        return tuple(self._nodes)

    @property
    def last(self) -> TalkNode | None:
        """The newest node, or None for an empty tree."""
        return self._nodes[-1] if self._nodes else None

    @property
    def rounds(self) -> int:
        """Number of rounds begun (the deepest depth)."""
        return len(self._levels)

    def node(self, node_id: int) -> TalkNode:
        """The node with id `node_id`; ValueError naming the id when there is none."""
        if isinstance(node_id, bool) or not isinstance(node_id, int) or not 1 <= node_id <= len(self._nodes):
            raise ValueError(f"no node with id {node_id!r} in this tree (ids are 1..{len(self._nodes)})")
        return self._nodes[node_id - 1]

    def annotation(self, node_id: int) -> tuple[DialogueState, str, float]:
        """Lambda(v) = (G(v), psi_v, P_v)."""
        node = self.node(node_id)
        return node.state, node.emotion, node.confidence

    def structure(self, node_id: int) -> Structure:
        """S(v): parent, child, left sibling, right sibling (0 = Null)."""
        node = self.node(node_id)
        return Structure(node.parent, node.child, node.left_sibling, node.right_sibling)

    def depth(self, node_id: int) -> int:
        """D(v): the round the node belongs to, from 1."""
        return self.node(node_id).depth

    def level(self, depth: int) -> tuple[TalkNode, ...]:
        """The nodes at `depth`, left to right (speak, then listen)."""
        if not 1 <= depth <= len(self._levels):
            raise ValueError(f"depth {depth} is outside this tree's 1..{len(self._levels)}")
        return tuple(self._nodes[i - 1] for i in self._levels[depth - 1])

    def reverse_level_order(self, max_depth: int | None = None, min_depth: int = 1) -> Iterator[TalkNode]:
        """pi(., k): nodes at depths min_depth..max_depth, deepest level first, left to right in a level."""
        deepest = len(self._levels) if max_depth is None else min(max_depth, len(self._levels))
        for depth in range(deepest, max(min_depth, 1) - 1, -1):
            for node_id in self._levels[depth - 1]:
                yield self._nodes[node_id - 1]

    def expected_next_state(self) -> DialogueState:
        """What eq. 7 allows next: a listen node after a speak node, a speak node otherwise."""
        last = self.last
        return DialogueState.LISTEN if last is not None and last.state is DialogueState.SPEAK else DialogueState.SPEAK

    def other(self, character: str) -> str:
        """The other character of the dyad."""
        if character not in self.characters:
            raise ValueError(f"unknown character {character!r}; this conversation has {self.characters!r}")
        return self.characters[1] if character == self.characters[0] else self.characters[0]

    # ------------------------------------------------------------------ growth (eq. 7)

    def grow(
        self,
        state: DialogueState | str,
        character: str,
        text: str,
        estimate: EmotionEstimate,
        source: NodeSource | str = NodeSource.SCRIPTED,
        created_unix_ms: int | None = None,
    ) -> TalkNode:
        """Add the next node. It must be the state eq. 7 allows (speak after listen or at the start, listen
        after speak), and a listen node belongs to the character who is not speaking in its round."""
        state = DialogueState(state)
        source = NodeSource(source)
        if not isinstance(text, str) or not text.strip():
            raise ValueError("a node's text must be a non-empty utterance")
        if character not in self.characters:
            raise ValueError(f"unknown character {character!r}; this conversation has {self.characters!r}")
        expected = self.expected_next_state()
        if state is not expected:
            raise ValueError(f"eq. 7 allows a {expected.value} node next, not a {state.value} node")

        last = self.last
        node_id = len(self._nodes) + 1
        if state is DialogueState.SPEAK:
            # A new round: the child of the previous listen node (the root level has no parent).
            depth = 1 if last is None else last.depth + 1
            parent = NULL if last is None else last.id
            left_sibling = NULL
        else:
            if character == last.character:
                raise ValueError(f"{character!r} is speaking in this round and cannot also be its listener")
            depth, parent, left_sibling = last.depth, last.parent, last.id

        node = TalkNode(
            id=node_id,
            state=state,
            character=character,
            text=text,
            emotion=estimate.label,
            confidence=estimate.confidence,
            distribution=estimate.distribution,
            depth=depth,
            parent=parent,
            left_sibling=left_sibling,
            source=source,
            created_unix_ms=int(time.time() * 1000) if created_unix_ms is None else created_unix_ms,
        )
        self._nodes.append(node)
        if state is DialogueState.SPEAK:
            self._levels.append([node_id])
            if parent:
                self._nodes[parent - 1].child = node_id
        else:
            self._levels[depth - 1].append(node_id)
            self._nodes[left_sibling - 1].right_sibling = node_id
        return node

    def add_round(
        self,
        speaker: str,
        text: str,
        speaker_estimate: EmotionEstimate,
        listener_estimate: EmotionEstimate | None = None,
        source: NodeSource | str = NodeSource.SCRIPTED,
        listener_source: NodeSource | str | None = None,
    ) -> tuple[TalkNode, TalkNode]:
        """Grow a whole round: `speaker`'s speak node and the other character's listen node.

        The listen node carries the same utterance; its emotion is `listener_estimate` when given (e.g. a
        human listener's face and voice), else what the listener perceives: the speaker's estimate.
        """
        speak = self.grow(DialogueState.SPEAK, speaker, text, speaker_estimate, source)
        listen = self.grow(
            DialogueState.LISTEN,
            self.other(speaker),
            text,
            listener_estimate or speaker_estimate,
            listener_source or source,
            created_unix_ms=speak.created_unix_ms,
        )
        return speak, listen

    def mark_interrupted(self, node_id: int, spoken_text: str) -> TalkNode:
        """Record that speak node `node_id`'s turn stopped after `spoken_text` (its emotion and Q stay as they were:
        what was meant, not only what was heard, is the round's)."""
        node = self.node(node_id)
        if node.state is not DialogueState.SPEAK:
            raise ValueError(f"node {node_id} is a {node.state.value} node; only a speak node is interrupted")
        node.interrupted, node.spoken_text = True, spoken_text
        return node

    def pop_round(self) -> tuple[TalkNode, TalkNode]:
        """Take back the newest whole round (its speak and listen node), restoring every link as it was: the
        runtime grows a round, and if the round cannot be stored, the tree in memory must equal the stored one."""
        if len(self._nodes) < 2 or self._nodes[-1].state is not DialogueState.LISTEN:
            raise ValueError("the tree does not end with a whole round")
        listen, speak = self._nodes.pop(), self._nodes.pop()
        self._levels.pop()
        if speak.parent:
            self._nodes[speak.parent - 1].child = NULL
        return speak, listen

    # ------------------------------------------------------------------ rebuilding

    @classmethod
    def from_nodes(cls, characters: Sequence[str], nodes: Sequence[TalkNode]) -> InteractiveTalkingTree:
        """Rebuild a tree by replaying `nodes` in id order through eq. 7, checking every stored link.

        Raises ValueError when the nodes are not a tree that eq. 7 could have grown (a gap in the ids, a
        wrong depth or link); a store that hands back a corrupt tree is refused, not trusted.
        """
        tree = cls(characters)
        for expected_id, stored in enumerate(sorted(nodes, key=lambda n: n.id), start=1):
            if stored.id != expected_id:
                raise ValueError(f"node ids must run 1..N without gaps; found {stored.id} where {expected_id} was due")
            grown = tree.grow(
                stored.state,
                stored.character,
                stored.text,
                EmotionEstimate(stored.emotion, stored.confidence, stored.distribution),
                stored.source,
                stored.created_unix_ms,
            )
            grown.interrupted, grown.spoken_text = stored.interrupted, stored.spoken_text
            for name in ("depth", "parent", "left_sibling"):
                if getattr(grown, name) != getattr(stored, name):
                    raise ValueError(
                        f"node {stored.id}: stored {name} {getattr(stored, name)} does not match the tree's "
                        f"{getattr(grown, name)}"
                    )
        # Forward links are set by growth; a stored node that disagrees is corrupt.
        for stored in nodes:
            grown = tree.node(stored.id)
            for name in ("child", "right_sibling"):
                if getattr(stored, name) not in (NULL, getattr(grown, name)):
                    raise ValueError(f"node {stored.id}: stored {name} {getattr(stored, name)} does not match")
        return tree
