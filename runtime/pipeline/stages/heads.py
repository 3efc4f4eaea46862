"""The head stages: where each head is (CRHMG's masks) and how it is turned (the pose)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from eai_avatar.runtime.models.head_masks import DEFAULT_EPS, HeadMaskGenerator, MaskStreamState
from eai_avatar.runtime.motion.head_motion import LISTENING, SPEAKING, PoseStream
from eai_avatar.runtime.pipeline.frames import SPEAK, MediaChunk, TurnPlan
from eai_avatar.runtime.pipeline.stages.base import Stage
from eai_avatar.runtime.rig import MaskReference, estimate_pose_from_mask


class HeadMasks(Stage):
    """Fills `masks` of every avatar in the chunk, drawn or not, from its own CRHMG stream (eps by role), so a
    head keeps its motion whether or not it was on screen and never jumps."""

    name = "head masks"

    def __init__(self, generator: HeadMaskGenerator, first_masks: dict[str, np.ndarray], rng: np.random.Generator):
        self.generator, self._rng = generator, rng
        self._streams: dict[str, MaskStreamState] = {n: generator.start(m) for n, m in first_masks.items()}

    def process(self, chunk: MediaChunk) -> None:
        for avatar in chunk.avatars:
            avatar.masks = self.generator.next(self._streams[avatar.avatar], avatar.count, DEFAULT_EPS[avatar.role],
                                               self._rng)  # fmt: skip


class HeadPoses(Stage):
    """Fills `poses` of every avatar. Roll, position and scale are measured on its mask (image moments, at the
    mask's own 64x64: 14x cheaper than upsampled); a silhouette barely shows yaw and pitch, so those come from the
    head-motion model (talkers move more and nod on stressed syllables, listeners drift and nod now and then), and
    E_t draws the face turned by them: the pose on the wire is the pose in the picture."""

    name = "head poses"

    def __init__(self, references: dict[str, MaskReference], rng: np.random.Generator):
        self.references = references
        self._motion = {name: PoseStream(rng) for name in references}
        self._phonemes: dict[str, list] = {}

    def nod(self, avatar: str) -> None:
        """A listener's nod, from the next frame on (a backchannel at a pause in what it hears)."""
        self._motion[avatar].nod()

    def begin_turn(self, plan: TurnPlan) -> None:
        for name, motion in self._motion.items():
            speaking = name == plan.speaker and plan.render_speaker
            phonemes = plan.speech.phonemes if speaking else None
            motion.restart(SPEAKING if speaking else LISTENING, plan.frames, phonemes)

    def process(self, chunk: MediaChunk) -> None:
        for avatar in chunk.avatars:
            motion = self._motion[avatar.avatar]
            style = SPEAKING if avatar.role == SPEAK else LISTENING
            if motion.style is not style:  # outside a turn (a human talking): the role decides
                motion.restart(style, avatar.count)
            turned = motion.next(avatar.count)
            reference = self.references[avatar.avatar]
            avatar.poses = [
                replace(estimate_pose_from_mask(mask, reference), yaw_deg=float(yaw), pitch_deg=float(pitch))
                for mask, (yaw, pitch) in zip(avatar.masks, turned, strict=True)
            ]
