"""The Interactive Talking Tree (paper section 3.2): dialogue state, structure and emotion of a conversation.

`tree` holds T = (V, G, Psi, Lambda, S, D) and grows it by eq. 7; `propagation` is the emotion query Q of
eq. 10 and its options; `serialization` maps a tree to the v1 proto message and to JSON and back.
"""

from eai_avatar.runtime.itt.propagation import AccumulatedEmotion, PropagationOptions, propagate
from eai_avatar.runtime.itt.tree import (
    DialogueState,
    EmotionEstimate,
    InteractiveTalkingTree,
    NodeSource,
    Structure,
    TalkNode,
)

__all__ = [
    "AccumulatedEmotion",
    "DialogueState",
    "EmotionEstimate",
    "InteractiveTalkingTree",
    "NodeSource",
    "PropagationOptions",
    "Structure",
    "TalkNode",
    "propagate",
]
