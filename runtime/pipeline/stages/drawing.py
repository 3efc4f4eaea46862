"""The drawing stages: the renderer's control images (mask + E_t) and the renderer itself."""

from __future__ import annotations

import functools

import numpy as np

from eai_avatar.runtime.engines import Engine
from eai_avatar.runtime.pipeline.frames import MediaChunk
from eai_avatar.runtime.pipeline.stages.base import Stage
from eai_avatar.runtime.rig import FaceRig, RigState, draw_motion_image


class MotionImages(Stage):
    """Fills `controls` of every drawn avatar: its mask upsampled to the renderer's size beside the facial-motion
    image E_t, the face rig drawn with the frame's blendshapes and pose (paper section 3.5's control)."""

    name = "motion images"

    def __init__(self, rigs: dict[str, FaceRig], size: int):
        self.rigs, self.size = rigs, size

    def process(self, chunk: MediaChunk) -> None:
        size = self.size
        for avatar in chunk.avatars:
            if not avatar.drawn:
                continue
            controls = np.empty((avatar.count, 4, size, size), np.float32)
            for offset in range(avatar.count):
                controls[offset, 0] = upsample(avatar.masks[offset], size)
                state = RigState(avatar.blendshapes[offset], avatar.poses[offset])
                motion = draw_motion_image(self.rigs[avatar.avatar], state, (size, size))
                controls[offset, 1:] = motion.transpose(2, 0, 1).astype(np.float32) / 255
            avatar.controls = controls


class Render(Stage):
    """Fills `rgba` of every drawn avatar: the chunk's controls in renderer batches of at most `max_batch` frames
    (alpha = the mask). Small batches keep the renderer's working memory small at the same speed per frame."""

    name = "render"

    def __init__(self, renderer: Engine, identity_index: dict[str, int], max_batch: int = 6):
        self.renderer, self.identity_index, self.max_batch = renderer, identity_index, max_batch

    def process(self, chunk: MediaChunk) -> None:
        drawn = [avatar for avatar in chunk.avatars if avatar.drawn and avatar.count]
        if not drawn:
            return
        controls = np.concatenate([avatar.controls for avatar in drawn])
        identities = np.concatenate([np.full(avatar.count, self.identity_index[avatar.avatar], np.int64)
                                     for avatar in drawn])  # fmt: skip
        images = np.empty((len(controls), controls.shape[2], controls.shape[3], 4), np.uint8)
        for start in range(0, len(controls), self.max_batch):
            part = slice(start, start + self.max_batch)
            rgba = self.renderer.run({"control": controls[part], "identity": identities[part]})["rgba"]
            images[part] = (np.clip(rgba, 0.0, 1.0).transpose(0, 2, 3, 1) * 255.0 + 0.5).astype(np.uint8)
        start = 0
        for avatar in drawn:
            avatar.rgba = images[start : start + avatar.count]
            start += avatar.count


def upsample(mask: np.ndarray, size: int) -> np.ndarray:
    """A CRHMG mask (h, h) in [0, 1] -> (size, size) by bilinear interpolation (the renderer's soft edge)."""
    h = mask.shape[0]
    if h == size:
        return mask.astype(np.float32)
    low, high, keep, take = _bilinear_taps(h, size)
    rows = mask[low] * keep + mask[high] * take  # (size, h), in float64 as the weights are
    # Columns as rows of the transpose: gathering whole contiguous rows is twice as fast as gathering columns.
    columns = np.ascontiguousarray(rows.T)
    return (columns[low] * keep + columns[high] * take).T.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _bilinear_taps(h: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each output row: the two source rows and their weights (as columns, to broadcast over a row)."""
    coords = (np.arange(size, dtype=np.float32) + 0.5) * h / size - 0.5
    low = np.clip(np.floor(coords).astype(int), 0, h - 1)
    high = np.clip(low + 1, 0, h - 1)
    weight = np.clip(coords - low, 0.0, 1.0)
    for array in (low, high, weight):
        array.flags.writeable = False  # shared by every call
    return low, high, (1 - weight)[:, None], weight[:, None]
