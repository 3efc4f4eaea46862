"""The gRPC output: a session's typed events as v1 ServerEvent messages, and the runtime's errors as gRPC codes.

This is the only place that knows both sides: the pipeline's events (`pipeline/events.py`) and the wire's
messages (`proto/eai_avatar/v1`). The mapping of errors to codes is the contract's (service.proto).
"""

from __future__ import annotations

import grpc

from eai_avatar.runtime.errors import FailedPrecondition, InvalidInput, LimitExceeded, NotFound, Unavailable
from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.itt.propagation import AccumulatedEmotion
from eai_avatar.runtime.pipeline.events import (
    AudioOut,
    Event,
    FrameOut,
    HumanSpeech,
    Notice,
    StreamEnded,
    StreamStarted,
    TurnEnded,
    TurnStarted,
)
from eai_avatar.v1 import common_pb2, converse_pb2
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, CONTRACT_VERSION, EMOTIONS, SAMPLE_RATE

ROLES = {"speak": common_pb2.ROLE_SPEAK, "listen": common_pb2.ROLE_LISTEN}
ENCODINGS = {"jpeg": common_pb2.IMAGE_ENCODING_JPEG, "png": common_pb2.IMAGE_ENCODING_PNG,
             "raw_rgb": common_pb2.IMAGE_ENCODING_RAW_RGB, "raw_rgba": common_pb2.IMAGE_ENCODING_RAW_RGBA}  # fmt: skip
LEVELS = {"info": common_pb2.Status.CODE_INFO, "warning": common_pb2.Status.CODE_WARNING,
          "error": common_pb2.Status.CODE_ERROR}  # fmt: skip

# Most specific first: LimitExceeded is an InvalidInput.
_CODES = (
    (LimitExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (LookupError, grpc.StatusCode.NOT_FOUND),
)


def status_code(error: BaseException | None) -> grpc.StatusCode:
    """The gRPC code of a runtime error (service.proto's list); INTERNAL for anything unexpected."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def emotion_message(value: EmotionEstimate | AccumulatedEmotion) -> common_pb2.Emotion:
    if isinstance(value, EmotionEstimate):
        distribution = dict(zip(EMOTIONS, (float(p) for p in value.distribution), strict=True))
    else:
        distribution = {name: float(score) for name, score in value.scores.items()}
    return common_pb2.Emotion(label=value.label, confidence=float(value.confidence), distribution=distribution)


def to_message(event: Event) -> converse_pb2.ServerEvent:
    """A typed event as the ServerEvent the contract sends for it."""
    match event:
        case FrameOut(frame=f):
            message = converse_pb2.Frame(avatar=f.avatar, index=f.index, presentation_ms=f.presentation_ms,
                                         role=ROLES[f.role], emotion=f.emotion, width=f.width, height=f.height,
                                         encoding=ENCODINGS[f.encoding], image=f.image)  # fmt: skip
            if f.blendshapes is not None:
                message.blendshapes.update(zip(ARKIT_BLENDSHAPES, map(float, f.blendshapes), strict=True))
            if f.head_pose is not None:
                p = f.head_pose
                message.head_pose.CopyFrom(common_pb2.HeadPose(yaw_deg=p.yaw_deg, pitch_deg=p.pitch_deg,
                                                               roll_deg=p.roll_deg, tx=p.tx, ty=p.ty,
                                                               scale=p.scale))  # fmt: skip
            return converse_pb2.ServerEvent(frame=message)
        case AudioOut(piece=piece):
            audio = common_pb2.Pcm16Audio(samples=piece.samples.astype("<i2").tobytes(), sample_rate=SAMPLE_RATE)
            return converse_pb2.ServerEvent(audio=converse_pb2.AudioChunk(
                avatar=piece.avatar, presentation_ms=piece.presentation_ms, audio=audio))  # fmt: skip
        case TurnStarted(plan=plan):
            return converse_pb2.ServerEvent(turn_started=converse_pb2.TurnStarted(
                round=plan.round, speaker=plan.speaker, listener=plan.listener, text=plan.text,
                speaker_recognized=emotion_message(plan.speaker_recognized),
                speaker_accumulated=emotion_message(plan.speaker_accumulated),
                listener_recognized=emotion_message(plan.listener_recognized),
                listener_accumulated=emotion_message(plan.listener_accumulated),
                speak_node_id=plan.speak_node_id, listen_node_id=plan.listen_node_id,
                start_ms=plan.start_ms))  # fmt: skip
        case TurnEnded(summary=s):
            return converse_pb2.ServerEvent(turn_ended=converse_pb2.TurnEnded(
                round=s.round, frames=s.frames, duration_ms=s.duration_ms, interrupted=s.interrupted,
                spoken_text=s.spoken_text))  # fmt: skip
        case HumanSpeech():
            return converse_pb2.ServerEvent(human_speech=converse_pb2.HumanSpeech(
                round=event.round, speaker=event.speaker, start_ms=event.start_ms,
                transcript=event.transcript))  # fmt: skip
        case Notice(level=level, message=text, error=error, client_event=number):
            code = status_code(error).value[0] if error is not None else 0
            return converse_pb2.ServerEvent(status=common_pb2.Status(code=LEVELS[level], message=text,
                                                                     grpc_code=code, client_event=number))  # fmt: skip
        case StreamStarted():
            output = event.output
            return converse_pb2.ServerEvent(header=converse_pb2.StreamHeader(
                session_id=event.session_id, contract_version=CONTRACT_VERSION, fps=output.fps,
                sample_rate=SAMPLE_RATE, width=output.width, height=output.height,
                image_encoding=ENCODINGS[output.image_encoding], characters=list(event.characters),
                rounds_so_far=event.rounds_so_far, clock_ms=event.clock_ms))  # fmt: skip
        case StreamEnded(reason=reason):
            return converse_pb2.ServerEvent(end=converse_pb2.StreamEnd(reason=reason))
    raise TypeError(f"no ServerEvent for {type(event).__name__}")
