import pytest

from eai_avatar.runtime.itt import EmotionEstimate, InteractiveTalkingTree


def build_three_rounds() -> InteractiveTalkingTree:
    """v1 ada sad .6, v2 bo sad .5 | v3 bo happy .9, v4 ada happy .7 | v5 ada angry .8, v6 bo neutral .4"""
    tree = InteractiveTalkingTree(["ada", "bo"])
    c = EmotionEstimate.certain
    tree.add_round("ada", "I lost my keys again.", c("sad", 0.6), c("sad", 0.5))
    tree.add_round("bo", "Good news, I found them!", c("happy", 0.9), c("happy", 0.7))
    tree.add_round("ada", "They were in your bag all along?", c("angry", 0.8), c("neutral", 0.4))
    return tree


@pytest.fixture
def three_rounds() -> InteractiveTalkingTree:
    return build_three_rounds()
