"""The last stage: frames as they leave, at the session's frame rate, size and image encoding."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from eai_avatar.runtime.pipeline.frames import EncodedFrame, MediaChunk, OutputSpec
from eai_avatar.runtime.pipeline.stages.base import Stage
from eai_avatar.vocabulary import FPS


def output_indices(model_index: int, fps: int) -> range:
    """The output frames (at `fps`) that model frame `model_index` (at 25 fps) stands for: those whose time falls in
    its 40 ms. The ranges of consecutive model frames tile the integers, so output indices have no gaps or
    repeats; at 25 fps each model frame is one output frame, below it some are dropped, above it repeated."""
    return range(-(-model_index * fps // FPS), -(-(model_index + 1) * fps // FPS))


def encode_image(rgba: np.ndarray, spec: OutputSpec) -> bytes:
    """(H, W, 4) uint8 -> bytes in the session's encoding and size (alpha kept where the encoding has it)."""
    image = Image.fromarray(rgba, "RGBA")
    if image.size != (spec.width, spec.height):
        image = image.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    if spec.image_encoding == "raw_rgba":
        return image.tobytes()
    if spec.image_encoding == "raw_rgb":
        return image.convert("RGB").tobytes()
    buffer = io.BytesIO()
    if spec.image_encoding == "png":
        image.save(buffer, "PNG", compress_level=1)  # fast: frames are streamed, not archived
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=spec.jpeg_quality)
    return buffer.getvalue()


class Encode(Stage):
    """Fills `chunk.frames`: each drawn avatar's model frames at the output rate (dropped below 25 fps, repeated
    above it; output indices without gaps, presentation_ms = index * 1000 / fps), each image encoded once, with
    blendshapes and head pose where the session asks for them. Frames are in presentation order."""

    name = "encode"

    def __init__(self, spec: OutputSpec):
        self.spec = spec

    def process(self, chunk: MediaChunk) -> None:
        spec = self.spec
        frames = []
        for offset in range(chunk.count):
            for avatar in chunk.avatars:
                if not avatar.drawn or offset >= avatar.count:
                    continue
                indices = output_indices(avatar.first_index + offset, spec.fps)
                if not indices:
                    continue
                image = b""
                if spec.include_images and avatar.rgba is not None:
                    image = encode_image(avatar.rgba[offset], spec)
                weights = avatar.blendshapes[offset].astype(np.float32) if spec.include_blendshapes else None
                pose = avatar.poses[offset] if spec.include_head_pose else None
                for index in indices:
                    frames.append(EncodedFrame(avatar.avatar, index, index * 1000 // spec.fps, avatar.role,
                                               avatar.emotion, spec.width, spec.height, spec.image_encoding, image,
                                               weights, pose))  # fmt: skip
        chunk.frames = frames
