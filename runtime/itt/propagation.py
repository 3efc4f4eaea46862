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
    """Q(v) of eq. 10 for node `node_id` under `options`, walking the history as the paper writes it (the
    reference; the runtime keeps `IncrementalQ`). Ties go to the first emotion in class order."""
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
    return _accumulated(score)


class IncrementalQ:
    """Q of every node of a growing tree, each computed once, in constant time, when its node is added.

    `propagate` walks the history for each query: a turn at node 2,000 would cost a thousand times one at node 2.
    Eq. 10's weights depend only on depth, and Q(v) sees only the tree as it stood when v was added, so running
    sums per depth are enough: W(k) = sum over depths j <= k of w(j) * S_j, where S_j sums the vectors of the
    nodes at depth j (per character for `same_character_only`). A speak node at depth d adds its own vector to
    W(d - 1); a listen node, the last of its round, takes W(d). A window of K rounds subtracts W(d - K); `decay`
    keeps E(k) = decay * E(k - 1) + S_k, so that sum_j decay^(d - j) S_j = decay^(d - hi) (E(hi) - ...).
    Agrees with `propagate` to rounding (sums in another order), which can only matter for an exact tie.
    """

    def __init__(self, options: PropagationOptions = PAPER):
        self.options = options
        self._nodes: list[TalkNode] = []
        self._results: list[AccumulatedEmotion] = []
        self._level_sums: list[dict[str, np.ndarray]] = []  # depth - 1 -> key -> S_j
        self._running: list[dict[str, np.ndarray]] = []  # depth - 1 -> key -> W(j) (or E(j) with decay)

    @classmethod
    def of_tree(cls, tree: InteractiveTalkingTree, options: PropagationOptions = PAPER) -> IncrementalQ:
        q = cls(options)
        for node in tree:
            q.add(node)
        return q

    def __len__(self) -> int:
        return len(self._results)

    def get(self, node_id: int) -> AccumulatedEmotion:
        if not 1 <= node_id <= len(self._results):
            raise ValueError(f"no accumulated emotion for node {node_id!r} (nodes 1..{len(self._results)})")
        return self._results[node_id - 1]

    def latest(self, character: str) -> AccumulatedEmotion | None:
        """Q of `character`'s newest node, or None before it has one."""
        for node, result in zip(reversed(self._nodes), reversed(self._results), strict=True):
            if node.character == character:
                return result
        return None

    def _keys(self, node: TalkNode) -> tuple[str, ...]:
        return ("", node.character)  # "" is every character's

    def _key(self, node: TalkNode) -> str:
        return node.character if self.options.same_character_only else ""

    def add(self, node: TalkNode) -> AccumulatedEmotion:
        """Q(node), which must be the tree's next node in growth order."""
        if node.id != len(self._results) + 1:
            raise ValueError(f"nodes are added in growth order: expected node {len(self._results) + 1}, got {node.id}")
        vector = _node_vector(node, self.options.use_distribution)
        if node.depth == len(self._level_sums) + 1:
            self._level_sums.append({})
            self._running.append({})
        level = self._level_sums[node.depth - 1]
        for key in self._keys(node):
            level[key] = level.get(key, np.zeros(len(EMOTIONS))) + vector
        self._update_running(node.depth)
        if self.options.current_node_only:
            score = vector.copy()
        elif node.state is DialogueState.SPEAK:
            score = vector + self._history(node, node.depth - 1)
        else:
            score = self._history(node, node.depth)
        result = _accumulated(score)
        self._nodes.append(node)
        self._results.append(result)
        return result

    def pop(self) -> None:
        """Forget the newest node (a round that could not be stored is taken back)."""
        node = self._nodes.pop()
        self._results.pop()
        vector = _node_vector(node, self.options.use_distribution)
        level = self._level_sums[node.depth - 1]
        for key in self._keys(node):
            level[key] = level[key] - vector
        if not any(n.depth == node.depth for n in self._nodes[-2:]):
            self._level_sums.pop()
            self._running.pop()
        else:
            self._update_running(node.depth)

    def _update_running(self, depth: int) -> None:
        """Recompute the running sum at `depth` (only the newest depth ever changes)."""
        previous = self._running[depth - 2] if depth > 1 else {}
        decay = self.options.decay
        running = {}
        for key in set(previous) | set(self._level_sums[depth - 1]):
            before = previous.get(key, np.zeros(len(EMOTIONS)))
            level = self._level_sums[depth - 1].get(key, np.zeros(len(EMOTIONS)))
            running[key] = decay * before + level if decay is not None else before + depth * level
        self._running[depth - 1] = running

    def _history(self, node: TalkNode, deepest: int) -> np.ndarray:
        """sum of w(u) * vec(u) over u at depths lo..deepest (eq. 10's pi(v, deepest), windowed)."""
        if deepest < 1:
            return np.zeros(len(EMOTIONS))
        key = self._key(node)
        window = self.options.window_rounds
        lowest = 1 if window is None else max(1, node.depth - window + 1)
        high = self._running[deepest - 1].get(key, np.zeros(len(EMOTIONS)))
        low = self._running[lowest - 2].get(key, np.zeros(len(EMOTIONS))) if lowest > 1 else np.zeros(len(EMOTIONS))
        decay = self.options.decay
        if decay is None:
            return high - low
        span = deepest - lowest + 1
        return decay ** (node.depth - deepest) * (high - decay**span * low)


def _accumulated(score: np.ndarray) -> AccumulatedEmotion:
    total = float(score.sum())
    normalized = score / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
    best = int(np.argmax(score))
    return AccumulatedEmotion(
        label=EMOTIONS[best],
        confidence=float(normalized[best]),
        scores={emotion: float(value) for emotion, value in zip(EMOTIONS, normalized, strict=True)},
    )
