"""A tree round-trips exactly through the v1 proto (and its bytes) and through JSON."""

import json

import pytest

from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree, PropagationOptions, propagate
from eai_avatar.runtime.itt.serialization import (
    tree_from_json,
    tree_from_proto,
    tree_to_dict,
    tree_to_json,
    tree_to_proto,
)
from eai_avatar.v1 import common_pb2, tree_pb2


def _awkward_tree():
    tree = InteractiveTalkingTree(["ada", "bo"])
    probs = [0.013, 0.021, 0.037, 0.0591, 0.6219, 0.1, 0.0834, 0.0646]
    tree.add_round("ada", 'Ünïcödé and "quotes"\nnewline', EmotionEstimate.from_probabilities(probs), source="llm")
    tree.add_round("bo", "second", EmotionEstimate.certain("fear", 1 / 3), source="human")
    return tree


def test_proto_round_trip_is_exact(three_rounds):
    for tree in (three_rounds, _awkward_tree()):
        message = tree_to_proto(tree, session_id="s1")
        wire = tree_pb2.TalkingTree.FromString(message.SerializeToString())
        back = tree_from_proto(wire)
        assert back.nodes == tree.nodes
        assert back.characters == tree.characters
        assert tree_to_proto(back, session_id="s1") == message


def test_proto_carries_every_paper_field_and_q(three_rounds):
    message = tree_to_proto(three_rounds, session_id="s1")
    v5 = message.nodes[4]
    assert (v5.id, v5.state, v5.depth, v5.parent, v5.left_sibling, v5.right_sibling, v5.child) == (
        5, common_pb2.ROLE_SPEAK, 3, 4, 0, 6, 0,
    )  # fmt: skip
    assert v5.accumulated.label == propagate(three_rounds, 5).label == "happy"
    assert message.last_node == 6 and list(message.characters) == ["ada", "bo"]


def test_json_round_trip_is_exact(three_rounds):
    for tree in (three_rounds, _awkward_tree()):
        text = tree_to_json(tree, "s1", PropagationOptions(decay=0.5))
        back = tree_from_json(text)
        assert back.nodes == tree.nodes
        assert tree_to_json(back, "s1", PropagationOptions(decay=0.5)) == text
        data = json.loads(text)
        assert data["propagation"]["decay"] == 0.5
        assert data["nodes"][0]["accumulated"]["label"] in data["emotions"]


def test_corrupt_serialized_trees_are_refused(three_rounds):
    data = tree_to_dict(three_rounds)
    data["nodes"][4]["parent"] = 1  # v5's parent must be v4
    with pytest.raises(ValueError, match="node 5: stored parent 1"):
        tree_from_json(json.dumps(data))
    data = tree_to_dict(three_rounds)
    del data["nodes"][2]  # a gap in the ids
    with pytest.raises(ValueError, match="without gaps"):
        tree_from_json(json.dumps(data))
    data = tree_to_dict(three_rounds)
    data["nodes"][0]["emotion"] = "joy"
    with pytest.raises(ValueError, match="unknown emotion 'joy'"):
        tree_from_json(json.dumps(data))
    message = tree_to_proto(three_rounds)
    del message.nodes[1].distribution["sad"]
    with pytest.raises(ValueError, match="distribution lacks"):
        tree_from_proto(message)
