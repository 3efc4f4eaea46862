"""Building LEED, the Listener Emotion Expression Dictionary, with the paper's recipe (section 3.4).

For each identity and emotion, Audio2Exp is run on silent audio conditioned on that emotion: the listening face.
Silence is constant, so the model's face is too; life is added the way the studio animates listeners: a slow
intensity drift of the expression (4-20 s periods) and natural blinks. Each identity may have its own fine-tuned
model (`eai-avatar train audio2exp --finetune`); the others share the base model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from eai_avatar.runtime.models.audio2exp import ExpressionGenerator, silence_features
from eai_avatar.runtime.models.leed import ListeningDictionary
from eai_avatar.runtime.motion.expressions import intensity_wobble, with_blinks
from eai_avatar.vocabulary import EMOTIONS, FPS

LISTEN_WOBBLE_LOW = 0.92  # as the studio's listeners: a steady expression that breathes a little


def build_leed(generators: Mapping[str, ExpressionGenerator], emotions: Sequence[str] = EMOTIONS,
               per_emotion: int = 3, seconds: float = 8.0, seed: int = 0) -> ListeningDictionary:  # fmt: skip
    """{identity: its Audio2Exp} -> a dictionary of `per_emotion` sequences of `seconds` per identity and emotion."""
    if per_emotion < 1 or seconds * FPS < 50:
        raise ValueError(f"need at least one sequence of 2 s or more, got {per_emotion} x {seconds} s")
    frames = int(seconds * FPS)
    silence = np.repeat(silence_features()[None], frames, axis=0)
    rng = np.random.default_rng(seed)
    sequences: dict[str, dict[str, list[np.ndarray]]] = {}
    for identity, generator in generators.items():
        sequences[identity] = {}
        for emotion in emotions:
            face = generator.run(silence, emotion)
            sequences[identity][emotion] = []
            for _ in range(per_emotion):
                drift = intensity_wobble(frames, rng, FPS, LISTEN_WOBBLE_LOW)[:, None]
                sequences[identity][emotion].append(with_blinks(face * drift, rng, "listen"))
    return ListeningDictionary(sequences)
