"""Q of eq. 10 against values computed by hand for the tree in conftest.build_three_rounds:

depth 1: v1 ada speak sad .6, v2 bo listen sad .5          (weight D = 1)
depth 2: v3 bo speak happy .9, v4 ada listen happy .7      (weight D = 2)
depth 3: v5 ada speak angry .8, v6 bo listen neutral .4    (weight D = 3)
"""

import pytest

from eai_avatar.runtime.itt import PropagationOptions, propagate


def q(tree, node_id, **options):
    return propagate(tree, node_id, PropagationOptions(**options))


def test_paper_values(three_rounds):
    # v5 speak: own angry .8 + depth 1 (sad 1.1) + 2 * depth 2 (happy 1.6 -> 3.2) = total 5.1
    result = q(three_rounds, 5)
    assert result.label == "happy"
    assert result.scores["happy"] == pytest.approx(3.2 / 5.1, rel=1e-6)
    assert result.scores["angry"] == pytest.approx(0.8 / 5.1, rel=1e-6)
    assert result.scores["sad"] == pytest.approx(1.1 / 5.1, rel=1e-6)
    assert result.confidence == result.scores["happy"]
    # v6 listen: 3 * (angry .8 + neutral .4) + happy 3.2 + sad 1.1 = 7.9
    result = q(three_rounds, 6)
    assert result.label == "happy"
    assert result.scores["happy"] == pytest.approx(3.2 / 7.9, rel=1e-6)
    assert result.scores["angry"] == pytest.approx(2.4 / 7.9, rel=1e-6)
    assert result.scores["neutral"] == pytest.approx(1.2 / 7.9, rel=1e-6)
    assert sum(result.scores.values()) == pytest.approx(1.0)
    # v1 speak: only itself
    assert q(three_rounds, 1).label == "sad" and q(three_rounds, 1).confidence == pytest.approx(1.0)
    # v2 listen: depth 1 includes the round's speak node and v2 itself: sad .6 + .5
    assert q(three_rounds, 2).label == "sad"
    # v4 listen: 2 * 1.6 happy vs 1.1 sad
    assert q(three_rounds, 4).label == "happy"


def test_history_outweighs_the_current_node(three_rounds):
    # v3 is recognized happy (.9) but the first round's sadness (.6 + .5 = 1.1) carries over.
    assert three_rounds.node(3).emotion == "happy"
    result = q(three_rounds, 3)
    assert result.label == "sad"
    assert result.scores["sad"] == pytest.approx(1.1 / 2.0, rel=1e-6)


def test_roles_switch_and_each_role_gets_its_own_q(three_rounds):
    # bo speaks in round 2 and listens in round 3; ada the reverse; Q follows the node, not the character.
    assert three_rounds.node(3).character == "bo" and three_rounds.node(6).character == "bo"
    assert (q(three_rounds, 3).label, q(three_rounds, 6).label) == ("sad", "happy")
    assert (q(three_rounds, 4).label, q(three_rounds, 5).label) == ("happy", "happy")


def test_current_node_only_is_the_papers_ablation(three_rounds):
    assert [q(three_rounds, i, current_node_only=True).label for i in range(1, 7)] == [
        "sad", "sad", "happy", "happy", "angry", "neutral",
    ]  # fmt: skip


def test_window_of_rounds(three_rounds):
    # K = 1: a speak node sees only itself, a listen node only its own round.
    assert q(three_rounds, 3, window_rounds=1).label == "happy"
    result = q(three_rounds, 6, window_rounds=1)
    assert result.label == "angry"
    assert result.scores["angry"] == pytest.approx(2.4 / 3.6, rel=1e-6)
    # K = 2 for v6: depths 2..3 -> happy 3.2 vs angry 2.4
    assert q(three_rounds, 6, window_rounds=2).label == "happy"


def test_exponential_decay(three_rounds):
    # decay .4 on v6: w(depth 3) = 1, w(2) = .4, w(1) = .16 -> angry .8, neutral .4, happy .64, sad .176
    result = q(three_rounds, 6, decay=0.4)
    assert result.label == "angry"
    assert result.scores["happy"] == pytest.approx(0.64 / 2.016, rel=1e-6)
    # v5 speak: own angry .8 + .4 * happy 1.6 + .16 * sad 1.1
    assert q(three_rounds, 5, decay=0.4).label == "angry"


def test_same_character_only(three_rounds):
    # v6 (bo): v2 sad .5 (w1), v3 happy .9 (w2), v6 neutral .4 (w3) -> happy 1.8 of 3.5
    result = q(three_rounds, 6, same_character_only=True)
    assert result.label == "happy"
    assert result.scores["happy"] == pytest.approx(1.8 / 3.5, rel=1e-6)
    # v5 (ada): own angry .8, v1 sad .6 (w1), v4 happy .7 (w2 -> 1.4)
    assert q(three_rounds, 5, same_character_only=True).label == "happy"
    assert q(three_rounds, 5, same_character_only=True).scores["angry"] == pytest.approx(0.8 / 2.8, rel=1e-6)


def test_full_distribution(three_rounds):
    # certain(label, c) spreads 1 - c evenly over the 7 others. v3: own happy .9, rest .1/7;
    # v1: sad .6, rest .4/7; v2: sad .5, rest .5/7. Each node sums to 1, so the total is 3.
    result = q(three_rounds, 3, use_distribution=True)
    assert result.label == "sad"
    assert result.scores["sad"] == pytest.approx((0.1 / 7 + 0.6 + 0.5) / 3, rel=1e-5)
    assert result.scores["happy"] == pytest.approx((0.9 + 0.4 / 7 + 0.5 / 7) / 3, rel=1e-5)


def test_q_sees_the_tree_as_it_stood(three_rounds):
    # Growing the tree later never changes an earlier node's Q.
    before = [q(three_rounds, i) for i in range(1, 7)]
    from eai_avatar.runtime.itt import EmotionEstimate

    three_rounds.add_round("bo", "whatever", EmotionEstimate.certain("contempt", 1.0))
    assert [q(three_rounds, i) for i in range(1, 7)] == before


@pytest.mark.parametrize("options", [{"window_rounds": 0}, {"window_rounds": -2}, {"decay": 0.0}, {"decay": 1.5}])
def test_bad_options(options):
    with pytest.raises(ValueError):
        PropagationOptions(**options)


def test_options_round_trip_and_unknown_keys():
    options = PropagationOptions(decay=0.5, window_rounds=3)
    assert PropagationOptions.from_dict(options.to_dict()) == options
    with pytest.raises(ValueError, match="unknown propagation options"):
        PropagationOptions.from_dict({"decay": 0.5, "temperature": 2})


def test_q_of_a_missing_node(three_rounds):
    with pytest.raises(ValueError, match="no node with id 42"):
        q(three_rounds, 42)
