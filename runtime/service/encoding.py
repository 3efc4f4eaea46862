"""Pipeline frames -> v1 messages: images in the session's encoding, emotions, audio, head poses."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.itt.propagation import AccumulatedEmotion
from eai_avatar.runtime.pipeline import AudioPiece, AvatarFrame
from eai_avatar.v1 import common_pb2, converse_pb2, session_pb2
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, EMOTIONS, SAMPLE_RATE

ROLES = {"speak": common_pb2.ROLE_SPEAK, "listen": common_pb2.ROLE_LISTEN}


def emotion_message(value: EmotionEstimate | AccumulatedEmotion) -> common_pb2.Emotion:
    if isinstance(value, EmotionEstimate):
        distribution = dict(zip(EMOTIONS, (float(p) for p in value.distribution), strict=True))
    else:
        distribution = {name: float(score) for name, score in value.scores.items()}
    return common_pb2.Emotion(label=value.label, confidence=float(value.confidence), distribution=distribution)


def encode_image(rgba: np.ndarray, output: session_pb2.OutputOptions) -> bytes:
    """(H, W, 4) uint8 -> bytes in the session's encoding and size (alpha kept where the encoding has it)."""
    image = Image.fromarray(rgba, "RGBA")
    if image.size != (output.width, output.height):
        image = image.resize((output.width, output.height), Image.Resampling.BILINEAR)
    encoding = output.image_encoding
    if encoding == common_pb2.IMAGE_ENCODING_RAW_RGBA:
        return image.tobytes()
    if encoding == common_pb2.IMAGE_ENCODING_RAW_RGB:
        return image.convert("RGB").tobytes()
    buffer = io.BytesIO()
    if encoding == common_pb2.IMAGE_ENCODING_PNG:
        image.save(buffer, "PNG", compress_level=1)  # fast: frames are streamed, not archived
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=output.jpeg_quality)
    return buffer.getvalue()


def frame_message(frame: AvatarFrame, output: session_pb2.OutputOptions) -> converse_pb2.ServerEvent:
    message = converse_pb2.Frame(avatar=frame.avatar, index=frame.index, presentation_ms=frame.presentation_ms,
                                 role=ROLES[frame.role], emotion=frame.emotion, width=output.width,
                                 height=output.height, encoding=output.image_encoding)  # fmt: skip
    if output.include_images and frame.rgba.size:
        message.image = encode_image(frame.rgba, output)
    if output.include_blendshapes:
        weights = zip(ARKIT_BLENDSHAPES, frame.blendshapes, strict=True)
        message.blendshapes.update({name: float(w) for name, w in weights})
    if output.include_head_pose:
        pose = frame.head_pose
        message.head_pose.CopyFrom(common_pb2.HeadPose(yaw_deg=pose.yaw_deg, pitch_deg=pose.pitch_deg,
                                                       roll_deg=pose.roll_deg, tx=pose.tx, ty=pose.ty,
                                                       scale=pose.scale))  # fmt: skip
    return converse_pb2.ServerEvent(frame=message)


def audio_message(piece: AudioPiece) -> converse_pb2.ServerEvent:
    audio = common_pb2.Pcm16Audio(samples=piece.samples.astype("<i2").tobytes(), sample_rate=SAMPLE_RATE)
    return converse_pb2.ServerEvent(
        audio=converse_pb2.AudioChunk(avatar=piece.avatar, presentation_ms=piece.presentation_ms, audio=audio)
    )


def status_message(code: int, message: str, grpc_code: int = 0) -> converse_pb2.ServerEvent:
    return converse_pb2.ServerEvent(status=common_pb2.Status(code=code, message=message, grpc_code=grpc_code))
