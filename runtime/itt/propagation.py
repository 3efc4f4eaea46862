"""Emotion propagation Q (paper eq. 10): a node's emotion accumulates over the dialogue's history.

Paper behaviour (the default):

    speak node v:  Q(v) = argmax_psi  P_v(psi) + sum_{u in pi(v, D(v)-1)} D(u) * P_u(psi)
    listen node v: Q(v) = argmax_psi  sum_{u in pi(v, D(v))} D(u) * P_u(psi)

pi(v, k) walks the tree in reverse level order over depths 1..k; P_u(psi) is u's confidence when psi is u's
emotion, else 0. Weights grow with depth, so recent rounds count more (the recency effect) while the history
still accumulates. For a listen node, depth D(v) holds the round's speak node and v itself.

Options change one thing each; `PropagationOptions()` is the paper.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from eai_avatar.runtime.itt.tree import DialogueState, InteractiveTalkingTree, TalkNode
from eai_avatar.vocabulary import EMOTION_INDEX, EMOTIONS


@dataclass(frozen=True)
class PropagationOptions:
    """How Q weighs history. The defaults are the paper's eq. 10.

    Args:
        use_distribution: P_u(psi) is u's full softmax instead of its confidence on its own label only.
        window_rounds: only the last K rounds count (depths D(v)-K+1..D(v)); None = the whole history.
        decay: weights decay**(D(v) - D(u)) instead of D(u) (exponential recency, in (0, 1]); None = paper.
        same_character_only: only nodes of v's own character count (plus v itself for a speak node).
        current_node_only: the paper's ablation: Q(v) is v's own recognized emotion.
    """

    use_distribution: bool = False
    window_rounds: int | None = None
    decay: float | None = None
    same_character_only: bool = False
    current_node_only: bool = False

    def __post_init__(self):
        if self.window_rounds is not None and (not isinstance(self.window_rounds, int) or self.window_rounds < 1):
            raise ValueError(f"window_rounds must be a positive integer or None; got {self.window_rounds!r}")
        if self.decay is not None and not 0.0 < self.decay <= 1.0:
            raise ValueError(f"decay must lie in (0, 1] or be None; got {self.decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PropagationOptions:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown propagation options: {sorted(unknown)}")
        return cls(**data)


#: The paper's eq. 10, the default everywhere.
PAPER = PropagationOptions()


@dataclass(frozen=True)
class AccumulatedEmotion:
    """Q(v): the winning label, its share of the total score, and the normalized score of every emotion."""

    label: str
    confidence: float
    scores: dict[str, float]


def _node_vector(node: TalkNode, use_distribution: bool) -> np.ndarray:
    if use_distribution:
        return np.asarray(node.distribution, dtype=np.float64)
    vector = np.zeros(len(EMOTIONS))
    vector[EMOTION_INDEX[node.emotion]] = node.confidence
    return vector


def propagate(tree: InteractiveTalkingTree, node_id: int, options: PropagationOptions = PAPER) -> AccumulatedEmotion:
    """Q(v) of eq. 10 for node `node_id` under `options`. Ties go to the first emotion in class order."""
    node = tree.node(node_id)
    score = np.zeros(len(EMOTIONS))
    if options.current_node_only:
        score += _node_vector(node, options.use_distribution)
    else:
        if node.state is DialogueState.SPEAK:
            # The node's own P_v enters with weight 1; history covers the rounds before it.
            score += _node_vector(node, options.use_distribution)
            deepest = node.depth - 1
        else:
            deepest = node.depth
        shallowest = 1 if options.window_rounds is None else node.depth - options.window_rounds + 1
        for other in tree.reverse_level_order(max_depth=deepest, min_depth=shallowest):
            if other.id > node.id:
                continue  # Q(v) sees the tree as it stood when v was added
            if options.same_character_only and other.character != node.character:
                continue
            weight = other.depth if options.decay is None else options.decay ** (node.depth - other.depth)
            score += weight * _node_vector(other, options.use_distribution)
    total = float(score.sum())
    normalized = score / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
    best = int(np.argmax(score))
    return AccumulatedEmotion(
        label=EMOTIONS[best],
        confidence=float(normalized[best]),
        scores={emotion: float(value) for emotion, value in zip(EMOTIONS, normalized, strict=True)},
    )
