"""A talking tree to the v1 proto message and to JSON, and back, exactly.

Confidences are float32 values (see `tree._f32`), so they survive the proto's `float` fields unchanged.
The accumulated emotion Q of each node is written out for readers; it is derived data and is recomputed,
not read, when a tree is rebuilt.
"""

from __future__ import annotations

import json

from eai_avatar.runtime.itt.propagation import PAPER, IncrementalQ, PropagationOptions
from eai_avatar.runtime.itt.tree import DialogueState, InteractiveTalkingTree, NodeSource, TalkNode
from eai_avatar.v1 import common_pb2, tree_pb2
from eai_avatar.vocabulary import EMOTIONS

_STATE_TO_PROTO = {DialogueState.SPEAK: common_pb2.ROLE_SPEAK, DialogueState.LISTEN: common_pb2.ROLE_LISTEN}
_STATE_FROM_PROTO = {v: k for k, v in _STATE_TO_PROTO.items()}
_SOURCE_TO_PROTO = {
    NodeSource.SCRIPTED: tree_pb2.NODE_SOURCE_SCRIPTED,
    NodeSource.LLM: tree_pb2.NODE_SOURCE_LLM,
    NodeSource.HUMAN: tree_pb2.NODE_SOURCE_HUMAN,
}
_SOURCE_FROM_PROTO = {v: k for k, v in _SOURCE_TO_PROTO.items()}

# Fields of TalkNode in JSON, in order; all are plain JSON values except the enums and the distribution.
_NODE_FIELDS = tuple(TalkNode.__dataclass_fields__)


def _accumulated(tree: InteractiveTalkingTree, options: PropagationOptions, given: IncrementalQ | None) -> IncrementalQ:
    """Q of every node: `given` (a conversation keeps one as it grows) when it is for these options, else computed
    in one pass (linear in the tree, where asking `propagate` node by node is quadratic)."""
    if given is not None and given.options == options and len(given) == len(tree):
        return given
    return IncrementalQ.of_tree(tree, options)


def tree_to_proto(
    tree: InteractiveTalkingTree,
    session_id: str = "",
    options: PropagationOptions = PAPER,
    accumulated: IncrementalQ | None = None,
    after_node: int = 0,
    max_nodes: int | None = None,
) -> tree_pb2.TalkingTree:
    """The tree (or the page of nodes after `after_node`, at most `max_nodes`) as the wire's TalkingTree."""
    q = _accumulated(tree, options, accumulated)
    nodes = tree.nodes[after_node : None if max_nodes is None else after_node + max_nodes]
    message = tree_pb2.TalkingTree(
        session_id=session_id,
        emotions=EMOTIONS,
        characters=tree.characters,
        last_node=tree.last.id if tree.last else 0,
        more=bool(nodes) and nodes[-1].id < len(tree),
    )
    for node in nodes:
        accumulated = q.get(node.id)
        message.nodes.append(
            tree_pb2.TreeNode(
                id=node.id,
                state=_STATE_TO_PROTO[node.state],
                character=node.character,
                text=node.text,
                emotion=node.emotion,
                confidence=node.confidence,
                distribution=dict(zip(EMOTIONS, node.distribution, strict=True)),
                parent=node.parent,
                child=node.child,
                left_sibling=node.left_sibling,
                right_sibling=node.right_sibling,
                depth=node.depth,
                source=_SOURCE_TO_PROTO[node.source],
                created_unix_ms=node.created_unix_ms,
                interrupted=node.interrupted,
                spoken_text=node.spoken_text,
                accumulated=common_pb2.Emotion(
                    label=accumulated.label,
                    confidence=accumulated.confidence,
                    distribution=accumulated.scores,
                ),
            )
        )
    return message


def tree_from_proto(message: tree_pb2.TalkingTree) -> InteractiveTalkingTree:
    if list(message.emotions) and list(message.emotions) != list(EMOTIONS):
        raise ValueError(f"the tree uses the emotion set {list(message.emotions)}, not {list(EMOTIONS)}")
    nodes = []
    for item in message.nodes:
        if item.state not in _STATE_FROM_PROTO or item.source not in _SOURCE_FROM_PROTO:
            raise ValueError(f"node {item.id}: state and source must be set")
        missing = set(EMOTIONS) - set(item.distribution)
        if missing:
            raise ValueError(f"node {item.id}: distribution lacks {sorted(missing)}")
        nodes.append(
            TalkNode(
                id=item.id,
                state=_STATE_FROM_PROTO[item.state],
                character=item.character,
                text=item.text,
                emotion=item.emotion,
                confidence=item.confidence,
                distribution=tuple(item.distribution[e] for e in EMOTIONS),
                depth=item.depth,
                parent=item.parent,
                child=item.child,
                left_sibling=item.left_sibling,
                right_sibling=item.right_sibling,
                source=_SOURCE_FROM_PROTO[item.source],
                created_unix_ms=item.created_unix_ms,
                interrupted=item.interrupted,
                spoken_text=item.spoken_text,
            )
        )
    return InteractiveTalkingTree.from_nodes(message.characters, nodes)


def node_to_dict(node: TalkNode) -> dict:
    data = {name: getattr(node, name) for name in _NODE_FIELDS}
    data["state"] = node.state.value
    data["source"] = node.source.value
    data["distribution"] = dict(zip(EMOTIONS, node.distribution, strict=True))
    return data


#: Fields a node may lack in JSON written before they existed, with their values then.
_LATER_FIELDS = {"interrupted": False, "spoken_text": ""}


def node_from_dict(data: dict) -> TalkNode:
    data = _LATER_FIELDS | data
    missing = set(_NODE_FIELDS) - set(data)
    if missing:
        raise ValueError(f"a node needs the fields {sorted(missing)}")
    values = {name: data[name] for name in _NODE_FIELDS}
    values["state"] = DialogueState(values["state"])
    values["source"] = NodeSource(values["source"])
    distribution = values["distribution"]
    if set(distribution) != set(EMOTIONS):
        raise ValueError(f"node {data['id']}: distribution keys must be the 8 emotions, got {sorted(distribution)}")
    values["distribution"] = tuple(float(distribution[e]) for e in EMOTIONS)
    return TalkNode(**values)


def tree_to_dict(tree: InteractiveTalkingTree, session_id: str = "", options: PropagationOptions = PAPER) -> dict:
    nodes = []
    q = _accumulated(tree, options, None)
    for node in tree:
        accumulated = q.get(node.id)
        nodes.append(
            node_to_dict(node)
            | {
                "accumulated": {
                    "label": accumulated.label,
                    "confidence": accumulated.confidence,
                    "scores": accumulated.scores,
                }
            }
        )
    return {
        "session_id": session_id,
        "characters": list(tree.characters),
        "emotions": list(EMOTIONS),
        "propagation": options.to_dict(),
        "nodes": nodes,
    }


def tree_from_dict(data: dict) -> InteractiveTalkingTree:
    if "characters" not in data or "nodes" not in data:
        raise ValueError("a tree needs 'characters' and 'nodes'")
    if data.get("emotions", list(EMOTIONS)) != list(EMOTIONS):
        raise ValueError(f"the tree uses the emotion set {data['emotions']}, not {list(EMOTIONS)}")
    return InteractiveTalkingTree.from_nodes(data["characters"], [node_from_dict(n) for n in data["nodes"]])


def tree_to_json(tree: InteractiveTalkingTree, session_id: str = "", options: PropagationOptions = PAPER, **kw) -> str:
    return json.dumps(tree_to_dict(tree, session_id, options), **kw)


def tree_from_json(text: str) -> InteractiveTalkingTree:
    return tree_from_dict(json.loads(text))
