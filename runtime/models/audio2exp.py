"""Audio2Exp at run time: speech + emotion -> ARKit blendshapes at 25 fps, for a whole utterance or streamed.

The model's output for a frame depends on `context` frames of features on each side and nothing else (see
export/models/audio2exp.py). A stream therefore starts with `context` frames of silence, runs the model on each
new stretch of frames together with their context, and ends with `context` frames of silence: the frames are
exactly those of the whole utterance, and a turn can start playing before its audio is complete. Latency is the
chunk plus `context` frames of look-ahead.

The model is reached through one callable, so the same logic runs on PyTorch (evaluation) and on an engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from eai_avatar.runtime.audio.features import (
    DEFAULT_CONFIG,
    FEATURES_PER_VIDEO_FRAME,
    StreamingLogMel,
    frames_to_video,
    log_mel,
)
from eai_avatar.runtime.engines import Engine, create_engine
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, EMOTIONS, SAMPLE_RATE, emotion_index

#: features (1, T + 2 * context, D), emotion (1, 8) -> blendshapes (1, T, 52)
ExpressionFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=1)
def silence_features() -> np.ndarray:
    """One video frame of digital silence, (D,): what the model sees around every utterance and while listening."""
    return video_features(np.zeros(SAMPLE_RATE // 5, np.float32), SAMPLE_RATE)[0]


def video_features(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """16 kHz speech -> (frames, D): the log-mel frames of each 40 ms video frame stacked (a trailing part dropped)."""
    return frames_to_video(log_mel(samples, sample_rate), FEATURES_PER_VIDEO_FRAME)


def emotion_vector(emotion: str | Mapping[str, float] | np.ndarray) -> np.ndarray:
    """An emotion name, a {name: weight} mixture or an (8,) vector -> an (8,) distribution (float32, sums to 1)."""
    if isinstance(emotion, str):
        vector = np.zeros(len(EMOTIONS), np.float32)
        vector[emotion_index(emotion)] = 1.0
        return vector
    if isinstance(emotion, Mapping):
        vector = np.zeros(len(EMOTIONS), np.float32)
        for name, weight in emotion.items():
            vector[emotion_index(name)] += float(weight)
    else:
        vector = np.asarray(emotion, dtype=np.float32).reshape(-1)
        if vector.shape != (len(EMOTIONS),):
            raise ValueError(
                f"an emotion vector has {len(EMOTIONS)} weights ({', '.join(EMOTIONS)}), got {vector.shape}"
            )
    if not np.isfinite(vector).all() or (vector < 0).any() or vector.sum() <= 0:
        raise ValueError(f"emotion weights must be finite, non-negative and not all zero, got {vector.tolist()}")
    return vector / vector.sum()


class ExpressionGenerator:
    """Args:
    model: the Audio2Exp callable (ExpressionFn).
    context: frames of features the model needs on each side of an output frame.
    """

    def __init__(self, model: ExpressionFn, context: int):
        if context < 0:
            raise ValueError(f"context must be >= 0, got {context}")
        self._model, self.context = model, context

    def run(self, features: np.ndarray, emotion) -> np.ndarray:
        """(T, D) features of one utterance -> (T, 52) blendshapes, silence assumed before and after."""
        pad = np.repeat(silence_features()[None], self.context, axis=0)
        padded = np.concatenate([pad, np.asarray(features, np.float32), pad])
        return self.infer(padded, emotion_vector(emotion))

    def infer(self, padded_features: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        """The model on (T + 2 * context, D) features with their context already in place -> (T, 52)."""
        return self._model(padded_features[None].astype(np.float32), emotion[None].astype(np.float32))[0]

    def whole(self, samples: np.ndarray, sample_rate: int, emotion) -> np.ndarray:
        """A whole utterance's PCM (16 kHz) -> (frames, 52)."""
        return self.run(video_features(samples, sample_rate), emotion)

    def stream(self, emotion, sample_rate: int = SAMPLE_RATE, min_frames: int = 1) -> ExpressionStream:
        """A stream for one turn; push PCM chunks as they arrive, then `finish()`."""
        return ExpressionStream(self, emotion_vector(emotion), sample_rate, min_frames)


class ExpressionStream:
    """Blendshape frames of one turn as its audio arrives; the frames equal `ExpressionGenerator.whole`."""

    def __init__(self, generator: ExpressionGenerator, emotion: np.ndarray, sample_rate: int, min_frames: int):
        if sample_rate != DEFAULT_CONFIG.sample_rate:
            raise ValueError(
                f"Audio2Exp streams take {DEFAULT_CONFIG.sample_rate} Hz audio, got {sample_rate} Hz: "
                "resample it first (eai_avatar.runtime.audio.resample)"
            )
        if min_frames < 1:
            raise ValueError(f"min_frames must be at least 1, got {min_frames}")
        self._generator, self._emotion, self._min_frames = generator, emotion, min_frames
        self._mel = StreamingLogMel(DEFAULT_CONFIG)
        self._pending_mel = np.zeros((0, DEFAULT_CONFIG.n_mels), np.float32)
        # Video-frame features not yet consumed, starting with the left context (silence at the stream's start).
        self._features = np.repeat(silence_features()[None], generator.context, axis=0)
        self._finished = False
        self.frames_emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Feed a chunk of PCM; returns the blendshape frames (n, 52) that became final (n may be 0)."""
        if self._finished:
            raise ValueError("this stream has finished; start a new one for the next turn")
        mel = self._mel.push(samples)
        self._pending_mel = np.concatenate([self._pending_mel, mel])
        complete = len(self._pending_mel) // FEATURES_PER_VIDEO_FRAME * FEATURES_PER_VIDEO_FRAME
        if complete:
            frames = frames_to_video(self._pending_mel[:complete], FEATURES_PER_VIDEO_FRAME)
            self._pending_mel = self._pending_mel[complete:]
            self._features = np.concatenate([self._features, frames])
        return self._emit(self._min_frames)

    def set_emotion(self, emotion) -> None:
        """Frames made from here on use `emotion` (a name, a mixture or an (8,) vector): a client that changes the
        emotion during a stream (Audio2Face-3D's time-coded emotions) gets the change at its next push."""
        self._emotion = emotion_vector(emotion)

    def finish(self) -> np.ndarray:
        """The turn's audio is complete: returns the remaining frames (silence follows, as in `whole`)."""
        if self._finished:
            return np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)
        context = self._generator.context
        self._features = np.concatenate([self._features, np.repeat(silence_features()[None], context, axis=0)])
        self._finished = True
        return self._emit(1)

    def _emit(self, at_least: int) -> np.ndarray:
        context = self._generator.context
        ready = len(self._features) - 2 * context  # frames whose whole receptive field has arrived
        if ready < at_least:
            return np.zeros((0, len(ARKIT_BLENDSHAPES)), np.float32)
        out = self._generator.infer(self._features, self._emotion)
        self._features = self._features[ready:]  # keep the 2 * context frames the next frames still need
        self.frames_emitted += ready
        return out


def engine_expression_generator(engine: Engine) -> ExpressionGenerator:
    """An ExpressionGenerator over an exported Audio2Exp engine (its receptive field is in the metadata)."""
    context = engine.metadata().get("context_frames")
    if context is None:
        raise ValueError(f"{engine.name}: not an Audio2Exp export (no context_frames in its metadata)")

    def run(features: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        return engine.run({"features": features, "emotion": emotion})["blendshapes"]

    return ExpressionGenerator(run, int(context))


def load_expression_generator(path: str | Path, backend: str = "onnxruntime", **options) -> ExpressionGenerator:
    """An ExpressionGenerator from audio2exp.onnx (or a folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "audio2exp.onnx"
    return engine_expression_generator(create_engine(path, backend, **options))
