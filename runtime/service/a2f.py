"""NVIDIA Audio2Face-3D's protocol on our models: `A2FControllerService/ProcessAudioStream`, so a pipeline built for
an Audio2Face-3D NIM (its Unreal and Maya plugins, pipecat's and others' clients) can drive our Audio2Exp instead.

The stream, in NVIDIA's order: the client sends an AudioWithEmotionStreamHeader (PCM format, face, blendshape and
emotion parameters), audio buffers (each may carry time-coded emotions), then EndOfAudio. We answer the animation
header (the 52 ARKit names in NVIDIA's spelling, the echoed audio's format), one AnimationData per 25 fps frame
(blendshape weights and that frame's 16 kHz audio, both with the frame's time code in seconds), the
END_OF_A2F_AUDIO_PROCESSING event and a final Status.

What maps how (README "Audio2Face-3D clients" lists it for users):
- audio: mono PCM16 at 8..48 kHz, resampled to 16 kHz as it arrives; anything else is refused (Status ERROR, then
  INVALID_ARGUMENT) before any animation;
- emotions: NVIDIA's 10 names map onto MEAD's 8 (our Audio2Exp's conditioning); the header's beginning_emotion
  and the time-coded ones drive the model (a change applies from the next audio buffer on), scaled by
  emotion_strength with the rest neutral. No audio emotion detection: our recognizer reads text, which this
  protocol does not carry, so without client emotions the face is neutral; the emotions used are reported in
  each frame's metadata "emotion_aggregate" (input_emotions, a2f_smoothed_output; a2e_output stays empty);
- blendshape multipliers and offsets: applied (weight * multiplier + offset, clamped when asked), names matched
  without regard to case; an unknown name is refused;
- face parameters (smoothing, strengths, tongue, eyelids), live_transition_time, emotion_contrast,
  live_blend_coef and preferred_emotion_strength have no counterpart in our model: accepted, ignored, and named
  in the final Status (WARNING) so the client knows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

import grpc
import numpy as np
from google.protobuf import any_pb2

from eai_avatar.runtime.audio.pcm import PcmStream
from eai_avatar.runtime.models.audio2exp import ExpressionGenerator, ExpressionStream
from eai_avatar.runtime.service.a2f_wire.nvidia_ace import animation_pb2, audio_pb2, status_pb2
from eai_avatar.runtime.service.a2f_wire.nvidia_audio2face_3d import audio2face_pb2_grpc, messages_pb2
from eai_avatar.runtime.service.decoding import Undecodable
from eai_avatar.vocabulary import (
    ARKIT_BLENDSHAPES,
    FPS,
    MAX_CLIENT_SAMPLE_RATE,
    MIN_CLIENT_SAMPLE_RATE,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
)

logger = logging.getLogger(__name__)

A2F_SERVICE_NAME = "nvidia_ace.services.a2f_controller.v1.A2FControllerService"
#: Our ARKit order, spelled as Audio2Face-3D spells it ("JawOpen"): what its clients' retargeting maps expect.
A2F_BLENDSHAPE_NAMES: tuple[str, ...] = tuple(name[0].upper() + name[1:] for name in ARKIT_BLENDSHAPES)
#: Audio2Face-3D's emotions -> MEAD's (our Audio2Exp's); None: no counterpart, the weight goes to neutral.
A2F_TO_MEAD: dict[str, str | None] = {
    "amazement": "surprised", "anger": "angry", "cheekiness": "happy", "disgust": "disgusted", "fear": "fear",
    "grief": "sad", "joy": "happy", "outofbreath": None, "pain": "sad", "sadness": "sad",
}  # fmt: skip
#: NVIDIA's defaults for the emotion post-processing we honour.
DEFAULT_EMOTION_STRENGTH = 0.6
DEFAULT_MAX_EMOTIONS = 3
EMOTION_AGGREGATE_KEY = "emotion_aggregate"
#: Longest clip one stream may carry: the model's features for it are held until the frames are made.
DEFAULT_MAX_AUDIO_S = 600.0


class A2FRefusal(Exception):
    """A stream we cannot serve as asked: answered with Status ERROR and then this gRPC code."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code


@dataclass
class StreamSettings:
    """What one stream's header asked for, checked."""

    sample_rate: int
    multipliers: np.ndarray  # (52,)
    offsets: np.ndarray  # (52,)
    clamp: bool
    emotion_strength: float
    max_emotions: int
    use_client_emotions: bool
    beginning_emotion: dict[str, float]
    ignored: list[str] = field(default_factory=list)


def _check_emotions(emotions: Mapping[str, float], what: str) -> dict[str, float]:
    checked = {}
    for name, weight in emotions.items():
        if name not in A2F_TO_MEAD:
            raise A2FRefusal(f"{what}: unknown emotion {name!r}; Audio2Face-3D's are {', '.join(A2F_TO_MEAD)}")
        if not 0.0 <= weight <= 1.0:
            raise A2FRefusal(f"{what}: emotion {name!r} must be in [0, 1], got {weight}")
        checked[name] = float(weight)
    return checked


def _blendshape_vector(values: Mapping[str, float], default: float, what: str) -> np.ndarray:
    index = {name.lower(): i for i, name in enumerate(ARKIT_BLENDSHAPES)}
    vector = np.full(len(ARKIT_BLENDSHAPES), default, np.float32)
    for name, value in values.items():
        if name.lower() not in index:
            raise A2FRefusal(f"{what}: unknown blendshape {name!r}; the 52 ARKit names are served, e.g. 'JawOpen'")
        if not np.isfinite(value):
            raise A2FRefusal(f"{what}: {name!r} must be finite, got {value}")
        vector[index[name.lower()]] = value
    return vector


def parse_header(header: messages_pb2.AudioWithEmotionStreamHeader) -> StreamSettings:
    """The header's audio format and parameters, checked; A2FRefusal names what cannot be served."""
    audio = header.audio_header
    if audio.audio_format != audio_pb2.AudioHeader.AUDIO_FORMAT_PCM:
        raise A2FRefusal(f"audio_header: only AUDIO_FORMAT_PCM is served, got format {audio.audio_format}")
    if audio.channel_count != 1:
        raise A2FRefusal(f"audio_header: mono audio only (channel_count 1), got {audio.channel_count}")
    if audio.bits_per_sample != 16:
        raise A2FRefusal(f"audio_header: 16-bit PCM only (bits_per_sample 16), got {audio.bits_per_sample}")
    if not MIN_CLIENT_SAMPLE_RATE <= audio.samples_per_second <= MAX_CLIENT_SAMPLE_RATE:
        raise A2FRefusal(f"audio_header: samples_per_second must be {MIN_CLIENT_SAMPLE_RATE}..{MAX_CLIENT_SAMPLE_RATE}"
                         f" Hz, got {audio.samples_per_second}")  # fmt: skip
    blendshapes = header.blendshape_params
    post = header.emotion_post_processing_params
    ignored = [f"face_params.{name}" for name in sorted(
        [*header.face_params.float_params, *header.face_params.integer_params, *header.face_params.float_array_params]
    )]  # fmt: skip
    if header.emotion_params.HasField("live_transition_time"):
        ignored.append("emotion_params.live_transition_time")
    for name in ("emotion_contrast", "live_blend_coef", "preferred_emotion_strength"):
        if post.HasField(name):
            ignored.append(f"emotion_post_processing_params.{name}")
    strength = post.emotion_strength if post.HasField("emotion_strength") else DEFAULT_EMOTION_STRENGTH
    if not 0.0 <= strength <= 1.0:
        raise A2FRefusal(f"emotion_post_processing_params.emotion_strength must be in [0, 1], got {strength}")
    max_emotions = post.max_emotions if post.HasField("max_emotions") else DEFAULT_MAX_EMOTIONS
    if not 1 <= max_emotions <= 6:
        raise A2FRefusal(f"emotion_post_processing_params.max_emotions must be 1..6, got {max_emotions}")
    return StreamSettings(
        sample_rate=audio.samples_per_second,
        multipliers=_blendshape_vector(blendshapes.bs_weight_multipliers, 1.0, "bs_weight_multipliers"),
        offsets=_blendshape_vector(blendshapes.bs_weight_offsets, 0.0, "bs_weight_offsets"),
        clamp=blendshapes.enable_clamping_bs_weight,
        emotion_strength=float(strength),
        max_emotions=int(max_emotions),
        use_client_emotions=not post.HasField("enable_preferred_emotion") or post.enable_preferred_emotion,
        beginning_emotion=_check_emotions(header.emotion_params.beginning_emotion, "emotion_params.beginning_emotion"),
        ignored=ignored,
    )


def applied_emotion(client: Mapping[str, float], settings: StreamSettings) -> dict[str, float]:
    """The client's emotions as they drive the face, in Audio2Face-3D's names: the strongest `max_emotions`, each
    times emotion_strength (none when the client turned its preferred emotions off)."""
    if not settings.use_client_emotions:
        return {}
    strongest = sorted(client.items(), key=lambda item: -item[1])[: settings.max_emotions]
    return {name: weight * settings.emotion_strength for name, weight in strongest if weight > 0}


def mead_mixture(applied: Mapping[str, float]) -> dict[str, float]:
    """Audio2Face-3D emotion weights -> MEAD's mixture for Audio2Exp; what they leave of 1 is neutral."""
    mixture: dict[str, float] = {}
    for name, weight in applied.items():
        mead = A2F_TO_MEAD[name] or "neutral"
        mixture[mead] = mixture.get(mead, 0.0) + weight
    mixture["neutral"] = mixture.get("neutral", 0.0) + max(0.0, 1.0 - sum(applied.values()))
    return mixture


def _decoded(request):
    """A request as the server's DecodeGuard left it: bytes that were not a message are refused here."""
    if isinstance(request, Undecodable):
        raise A2FRefusal(str(request.error))
    return request


def _status(code: int, message: str) -> messages_pb2.A2F3DAnimationDataStream:
    return messages_pb2.A2F3DAnimationDataStream(status=status_pb2.Status(code=code, message=message))


class A2FControllerServicer(audio2face_pb2_grpc.A2FControllerServiceServicer):
    """Audio2Face-3D's ProcessAudioStream on our streaming Audio2Exp (see the module's docstring for the mapping).

    Args:
        expressions: the Audio2Exp generator (None: the server has no bundle, calls get UNAVAILABLE).
        executor: where model work runs, off the event loop (None: asyncio's default).
        max_audio_s: longest clip one stream may send (more is RESOURCE_EXHAUSTED).
    """

    def __init__(self, expressions: ExpressionGenerator | None, executor: Executor | None = None,
                 max_audio_s: float = DEFAULT_MAX_AUDIO_S):  # fmt: skip
        self.expressions, self.executor, self.max_audio_s = expressions, executor, max_audio_s

    async def ProcessAudioStream(self, request_iterator, context):  # noqa: N802 - NVIDIA's method name
        if self.expressions is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "this server has no engine bundle loaded")
        try:
            async for reply in self._animate(request_iterator):
                yield reply
        except A2FRefusal as refusal:
            logger.info("Audio2Face-3D stream refused: %s", refusal)
            yield _status(status_pb2.Status.ERROR, str(refusal))
            await context.abort(refusal.code, str(refusal))

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    async def _animate(self, request_iterator) -> AsyncIterator[messages_pb2.A2F3DAnimationDataStream]:
        requests = aiter(request_iterator)
        first = _decoded(await anext(requests, None))
        if first is None or first.WhichOneof("stream_part") != "audio_stream_header":
            raise A2FRefusal("the first message of a stream must be its audio_stream_header")
        settings = parse_header(first.audio_stream_header)
        yield messages_pb2.A2F3DAnimationDataStream(
            animation_data_stream_header=messages_pb2.A2F3DAnimationDataStreamHeader(
                audio_header=audio_pb2.AudioHeader(
                    audio_format=audio_pb2.AudioHeader.AUDIO_FORMAT_PCM,
                    channel_count=1,
                    samples_per_second=SAMPLE_RATE,
                    bits_per_sample=16,
                ),
                skel_animation_header=animation_pb2.SkelAnimationHeader(blend_shapes=A2F_BLENDSHAPE_NAMES),
                start_time_code_since_epoch=time.time(),
            )
        )
        animation = _Animation(self.expressions, settings, self.max_audio_s)
        async for request in requests:
            part = _decoded(request).WhichOneof("stream_part")
            if part == "end_of_audio":
                break
            if part != "audio_with_emotion":
                raise A2FRefusal(f"only audio_with_emotion or end_of_audio may follow the header, got {part}")
            frames = await self._run(animation.push, request.audio_with_emotion)
            for reply in frames:
                yield reply
        for reply in await self._run(animation.finish):
            yield reply
        yield messages_pb2.A2F3DAnimationDataStream(
            event=messages_pb2.Event(event_type=messages_pb2.END_OF_A2F_AUDIO_PROCESSING)
        )
        if settings.ignored:
            yield _status(status_pb2.Status.WARNING, "done; not modelled here, ignored: " + ", ".join(settings.ignored))
        else:
            yield _status(status_pb2.Status.SUCCESS, f"done: {animation.frames_sent} frames at {FPS} fps")


class _Animation:
    """One stream's audio -> frames: resampling, the model's stream, the client's emotions over time, the
    multipliers and offsets, and the 16 kHz audio each frame carries."""

    def __init__(self, expressions: ExpressionGenerator, settings: StreamSettings, max_audio_s: float):
        self.settings, self.max_audio_s = settings, max_audio_s
        self.pcm = PcmStream(settings.sample_rate)
        self.client_emotion = dict(settings.beginning_emotion)
        self.applied = applied_emotion(self.client_emotion, settings)
        self.model: ExpressionStream = expressions.stream(mead_mixture(self.applied))
        self.pending_emotions: list[messages_pb2.EmotionWithTimeCode] = []
        self.audio = np.zeros(0, np.int16)  # 16 kHz audio not yet sent with a frame
        self.odd_byte = b""  # a sample torn across two buffers
        self.frames_sent = 0
        self.emotion_changed = True  # the first frame reports the emotions in use

    def push(self, part: messages_pb2.AudioWithEmotion) -> list[messages_pb2.A2F3DAnimationDataStream]:
        for emotion in part.emotions:
            _check_emotions(emotion.emotion, f"emotion at time code {emotion.time_code}")
        self.pending_emotions = sorted([*self.pending_emotions, *part.emotions], key=lambda e: e.time_code)
        self._take_due_emotions(self.pcm.client_samples / self.settings.sample_rate)
        raw = self.odd_byte + part.audio_buffer
        whole = len(raw) // 2 * 2
        self.odd_byte = raw[whole:]
        samples = np.frombuffer(raw[:whole], "<i2").astype(np.int16)
        if self.pcm.client_samples + len(samples) > self.max_audio_s * self.settings.sample_rate:
            raise A2FRefusal(f"more than {self.max_audio_s:g} s of audio in one stream",
                             grpc.StatusCode.RESOURCE_EXHAUSTED)  # fmt: skip
        resampled = self.pcm.push(samples)
        self.audio = np.concatenate([self.audio, resampled])
        return self._replies(self.model.push(resampled) if len(resampled) else None)

    def finish(self) -> list[messages_pb2.A2F3DAnimationDataStream]:
        self._take_due_emotions(float("inf"))
        tail = self.pcm.finish()
        # The clip's last partial frame is padded with silence, so every sample the client sent has a frame.
        made = self.frames_sent * SAMPLES_PER_FRAME + len(self.audio) + len(tail)
        pad = np.zeros(-made % SAMPLES_PER_FRAME, np.int16)
        tail = np.concatenate([tail, pad])
        self.audio = np.concatenate([self.audio, tail])
        pushed = self.model.push(tail) if len(tail) else np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)
        return self._replies(np.concatenate([pushed, self.model.finish()]))

    def _take_due_emotions(self, now_s: float) -> None:
        while self.pending_emotions and self.pending_emotions[0].time_code <= now_s:
            self.client_emotion = dict(self.pending_emotions.pop(0).emotion)
            self.applied = applied_emotion(self.client_emotion, self.settings)
            self.model.set_emotion(mead_mixture(self.applied))  # never all zeros: neutral takes what is left
            self.emotion_changed = True

    def _replies(self, weights: np.ndarray | None) -> list[messages_pb2.A2F3DAnimationDataStream]:
        if weights is None or not len(weights):
            return []
        settings = self.settings
        weights = weights * settings.multipliers + settings.offsets
        if settings.clamp:
            weights = np.clip(weights, 0.0, 1.0)
        replies = []
        for frame in weights:
            time_code = self.frames_sent / FPS
            audio, self.audio = self.audio[:SAMPLES_PER_FRAME], self.audio[SAMPLES_PER_FRAME:]
            data = animation_pb2.AnimationData(
                skel_animation=animation_pb2.SkelAnimation(blend_shape_weights=[
                    animation_pb2.FloatArrayWithTimeCode(time_code=time_code, values=frame.tolist())
                ]),
                audio=animation_pb2.AudioWithTimeCode(time_code=time_code, audio_buffer=audio.astype("<i2").tobytes()),
            )  # fmt: skip
            if self.emotion_changed:
                data.metadata[EMOTION_AGGREGATE_KEY].CopyFrom(self._emotion_aggregate(time_code))
                self.emotion_changed = False
            replies.append(messages_pb2.A2F3DAnimationDataStream(animation_data=data))
            self.frames_sent += 1
        return replies

    def _emotion_aggregate(self, time_code: float) -> any_pb2.Any:
        aggregate = messages_pb2.EmotionAggregate(
            input_emotions=[messages_pb2.EmotionWithTimeCode(time_code=time_code, emotion=self.client_emotion)],
            a2f_smoothed_output=[messages_pb2.EmotionWithTimeCode(time_code=time_code, emotion=self.applied)],
        )
        packed = any_pb2.Any()
        packed.Pack(aggregate)
        return packed


def add_a2f_servicer(servicer: A2FControllerServicer, server: grpc.aio.Server) -> None:
    audio2face_pb2_grpc.add_A2FControllerServiceServicer_to_server(servicer, server)
