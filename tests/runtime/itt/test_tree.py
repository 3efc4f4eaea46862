"""T = (V, G, Psi, Lambda, S, D) and growth by eq. 7."""

import random

import pytest

from eai_avatar.runtime.itt import DialogueState, EmotionEstimate, InteractiveTalkingTree, Structure
from eai_avatar.runtime.itt.tree import NULL

SPEAK, LISTEN = DialogueState.SPEAK, DialogueState.LISTEN


def test_the_papers_example_v5(three_rounds):
    tree = three_rounds
    assert tree.annotation(5) == (SPEAK, "angry", pytest.approx(0.8))
    assert tree.depth(5) == 3
    assert tree.structure(5) == Structure(parent=4, child=NULL, left_sibling=NULL, right_sibling=6)
    # and the rest of the figure: each round is a speak node with its listen node as right sibling
    assert tree.structure(1) == Structure(parent=NULL, child=NULL, left_sibling=NULL, right_sibling=2)
    assert tree.structure(2) == Structure(parent=NULL, child=3, left_sibling=1, right_sibling=NULL)
    assert tree.structure(4) == Structure(parent=2, child=5, left_sibling=3, right_sibling=NULL)
    assert tree.structure(6) == Structure(parent=4, child=NULL, left_sibling=5, right_sibling=NULL)
    assert [n.id for n in tree.reverse_level_order()] == [5, 6, 3, 4, 1, 2]
    assert [n.id for n in tree.reverse_level_order(max_depth=2)] == [3, 4, 1, 2]


def test_growth_follows_eq7_over_many_rounds_with_role_switches():
    rng = random.Random(7)
    tree = InteractiveTalkingTree(["ada", "bo"])
    speakers = []
    for round_index in range(25):
        speaker = rng.choice(["ada", "bo"])
        speakers.append(speaker)
        estimate = EmotionEstimate.certain(rng.choice(["happy", "sad", "angry", "neutral"]), rng.uniform(0.3, 1))
        assert tree.expected_next_state() is SPEAK
        speak, listen = tree.add_round(speaker, f"line {round_index}", estimate)
        assert (speak.depth, listen.depth) == (round_index + 1, round_index + 1)
        assert listen.character == tree.other(speaker)
    assert len(tree) == 50 and tree.rounds == 25
    assert len(set(zip(speakers, speakers[1:], strict=False))) > 1, "roles must switch in this run"
    # eq. 7 read back: v_next = S_rs(v) after a speak node, S_child(v) after a listen node
    for node in tree.nodes[:-1]:
        following = tree.node(node.id + 1)
        if node.state is SPEAK:
            assert tree.structure(node.id).right_sibling == following.id
            assert following.state is LISTEN and following.depth == node.depth
        else:
            assert tree.structure(node.id).child == following.id
            assert following.state is SPEAK and following.depth == node.depth + 1
            assert following.parent == node.id
    # a round's speak node is never a child of a speak node; children hang only under listen nodes
    assert all(tree.node(n.parent).state is LISTEN for n in tree if n.parent)
    assert [len(tree.level(d)) for d in range(1, 26)] == [2] * 25


def test_listener_may_speak_next_round():
    tree = InteractiveTalkingTree(["ada", "bo"])
    c = EmotionEstimate.certain("neutral", 0.5)
    tree.add_round("ada", "hi", c)
    tree.add_round("ada", "are you there?", c)  # the same speaker twice is allowed
    tree.add_round("bo", "yes", c)
    assert [n.character for n in tree] == ["ada", "bo", "ada", "bo", "bo", "ada"]


def test_out_of_order_growth_is_refused(three_rounds):
    estimate = EmotionEstimate.certain("happy")
    with pytest.raises(ValueError, match="allows a speak node next"):
        three_rounds.grow(LISTEN, "ada", "hm", estimate)
    three_rounds.grow(SPEAK, "bo", "so?", estimate)
    with pytest.raises(ValueError, match="cannot also be its listener"):
        three_rounds.grow(LISTEN, "bo", "so?", estimate)
    with pytest.raises(ValueError, match="allows a listen node next"):
        three_rounds.grow(SPEAK, "ada", "hm", estimate)


@pytest.mark.parametrize("bad_id", [0, -1, 7, 99, "3", 2.0, None, True])
def test_a_node_id_that_does_not_exist(three_rounds, bad_id):
    with pytest.raises(ValueError, match="no node with id"):
        three_rounds.node(bad_id)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown emotion 'joy'"):
        EmotionEstimate.certain("joy")
    with pytest.raises(ValueError, match="unknown emotion"):
        EmotionEstimate("Happy", 0.5, (0.125,) * 8)
    with pytest.raises(ValueError, match="one value per emotion"):
        EmotionEstimate("happy", 0.5, (0.5, 0.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        EmotionEstimate("happy", float("nan"), (0.125,) * 8)
    tree = InteractiveTalkingTree(["ada", "bo"])
    with pytest.raises(ValueError, match="non-empty utterance"):
        tree.add_round("ada", "   ", EmotionEstimate.certain("happy"))
    with pytest.raises(ValueError, match="unknown character 'cy'"):
        tree.add_round("cy", "hello", EmotionEstimate.certain("happy"))
    with pytest.raises(ValueError, match="two distinct"):
        InteractiveTalkingTree(["ada", "ada"])
    assert len(tree) == 0, "a refused node leaves the tree unchanged"


def test_estimate_from_probabilities_is_eqs_8_and_9():
    probs = [0.05, 0.05, 0.1, 0.1, 0.4, 0.2, 0.05, 0.05]
    estimate = EmotionEstimate.from_probabilities(probs)
    assert estimate.label == "happy" and estimate.confidence == pytest.approx(0.4)
    assert estimate.distribution == pytest.approx(probs)
