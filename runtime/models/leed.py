"""LEED, the Listener Emotion Expression Dictionary (paper 3.4): listening faces retrieved by emotion.

Per identity and emotion the dictionary holds a few blendshape sequences (T, 52) in [0, 1] at 25 fps, made
offline by Audio2Exp on silent audio. Retrieval picks one at random and plays it for as many frames as asked,
looping; every sequence is made loopable once, at construction, so the loop point shows no jump. A
ListenerExpressionStream plays one listener's face across calls and blends into a new sequence when the ITT's
emotion changes.
"""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, NEUTRAL, emotion_index

logger = logging.getLogger(__name__)

NUM_BLENDSHAPES = len(ARKIT_BLENDSHAPES)
#: Frames crossfaded at a loop point: at least (0.4 s at 25 fps) and at most, when a sequence's ends differ a lot.
DEFAULT_CROSSFADE = 10
DEFAULT_MAX_CROSSFADE = 50
#: Frames over which a stream blends into a new emotion's sequence (0.24 s at 25 fps).
DEFAULT_BLEND_FRAMES = 6
#: A step of at most this multiple of a sequence's 95th-percentile step counts as no jump.
SEAM_STEP_RATIO = 1.5
#: Model outputs may overshoot [0, 1] by this much and are clipped; more is an error.
RANGE_TOLERANCE = 1e-3

_FORMAT = "eai-avatar-leed"
_VERSION = 1


def smoothstep(x: np.ndarray) -> np.ndarray:
    """3x^2 - 2x^3 on x clipped to [0, 1]: a fade weight that starts and ends with zero slope."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def step_sizes(sequence: np.ndarray) -> np.ndarray:
    """Frame-to-frame steps (T-1,) of a (T, C) sequence: the largest absolute change over the channels."""
    return np.abs(np.diff(sequence, axis=0)).max(axis=1)


def _crossfade(sequence: np.ndarray, fade: int) -> np.ndarray:
    length = len(sequence) - fade
    weight = smoothstep(np.arange(fade) / fade)[:, None]
    loop = sequence[:length].copy()
    loop[:fade] = weight * sequence[:fade] + (1.0 - weight) * sequence[length:]
    return loop


def _fade_step(loop: np.ndarray, fade: int) -> float:
    # The seam (last frame -> first) and the steps through the fade; the rest are the sequence's own steps.
    start = np.arange(-1, fade) % len(loop)
    return float(np.abs(loop[(start + 1) % len(loop)] - loop[start]).max())


def make_loopable(
    sequence: np.ndarray, crossfade: int = DEFAULT_CROSSFADE, max_crossfade: int = DEFAULT_MAX_CROSSFADE
) -> np.ndarray:
    """A (T - K, C) loop of a (T, C) sequence that plays from its last frame into its first without a jump.

    The last K frames are faded into the first K and cut off, so the loop's last frame x[T-K-1] leads into its
    first, x[T-K]: a step the sequence really took. K starts at `crossfade` and grows (up to `max_crossfade` and
    T/2) while the fade would step more than SEAM_STEP_RATIO times the sequence's 95th-percentile step, which
    happens when the ends differ a lot; if no K gets there, the one with the smallest step wins.
    """
    sequence = np.asarray(sequence)
    if sequence.ndim != 2 or len(sequence) < 2 * crossfade:
        raise ValueError(f"a loop needs a (T, C) sequence with T >= {2 * crossfade} frames, got {sequence.shape}")
    limit = SEAM_STEP_RATIO * float(np.percentile(step_sizes(sequence), 95))
    best_fade, best_step = crossfade, np.inf
    for fade in range(crossfade, min(max_crossfade, len(sequence) // 2) + 1):
        step = _fade_step(_crossfade(sequence, fade), fade)
        if step <= limit:
            best_fade = fade
            break
        if step < best_step:
            best_fade, best_step = fade, step
    return _crossfade(sequence, best_fade).astype(sequence.dtype)


def _frame_count(frames: int) -> int:
    frames = operator.index(frames)
    if frames < 0:
        raise ValueError(f"frames must be >= 0, got {frames}")
    return frames


def _play(loop: np.ndarray, start: int, frames: int) -> np.ndarray:
    return loop[(start + np.arange(frames)) % len(loop)]


class ListeningDictionary:
    """Listening blendshape sequences by identity and emotion, each made loopable at construction.

    Args:
        sequences: {identity: {emotion: [sequence (T, 52) in [0, 1], ...]}}, emotions from the vocabulary.
        crossfade, max_crossfade: frames of a loop's crossfade, at least and at most (see make_loopable); a
            sequence needs at least 2 * crossfade frames.
    """

    def __init__(
        self,
        sequences: Mapping[str, Mapping[str, Sequence[np.ndarray]]],
        crossfade: int = DEFAULT_CROSSFADE,
        max_crossfade: int = DEFAULT_MAX_CROSSFADE,
    ):
        if operator.index(crossfade) < 1:
            raise ValueError(f"crossfade must be at least 1 frame, got {crossfade}")
        if operator.index(max_crossfade) < crossfade:
            raise ValueError(f"max_crossfade ({max_crossfade}) must be >= crossfade ({crossfade})")
        if not sequences:
            raise ValueError("a listening dictionary needs at least one identity")
        self.crossfade, self.max_crossfade = int(crossfade), int(max_crossfade)
        self._raw: dict[str, dict[str, tuple[np.ndarray, ...]]] = {}
        self._loops: dict[str, dict[str, tuple[np.ndarray, ...]]] = {}
        for identity, by_emotion in sequences.items():
            if not isinstance(identity, str) or not identity:
                raise ValueError(f"an identity is a non-empty string, got {identity!r}")
            if not by_emotion:
                raise ValueError(f"identity {identity!r} has no emotions")
            for emotion in by_emotion:
                emotion_index(emotion)
            raw, loops = {}, {}
            for emotion in sorted(by_emotion, key=emotion_index):  # vocabulary order, whatever the input's
                if len(by_emotion[emotion]) == 0:
                    raise ValueError(f"identity {identity!r} has no sequences for {emotion!r}")
                checked = [self._check(s, f"{identity}/{emotion}[{i}]") for i, s in enumerate(by_emotion[emotion])]
                raw[emotion] = tuple(checked)
                loops[emotion] = tuple(
                    self._frozen(make_loopable(s, self.crossfade, self.max_crossfade)) for s in checked
                )
            self._raw[identity], self._loops[identity] = raw, loops

    def _check(self, sequence: np.ndarray, where: str) -> np.ndarray:
        array = np.asarray(sequence, dtype=np.float32)
        minimum = 2 * self.crossfade
        if array.ndim != 2 or array.shape[1] != NUM_BLENDSHAPES or array.shape[0] < minimum:
            raise ValueError(
                f"LEED sequence {where} must be (T, {NUM_BLENDSHAPES}) with T >= {minimum} frames "
                f"(2 x crossfade), got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"LEED sequence {where} has non-finite values (NaN or inf)")
        low, high = float(array.min()), float(array.max())
        if low < -RANGE_TOLERANCE or high > 1.0 + RANGE_TOLERANCE:
            raise ValueError(f"LEED sequence {where} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}]")
        return self._frozen(np.clip(array, 0.0, 1.0))

    @staticmethod
    def _frozen(array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array, dtype=np.float32)
        array.flags.writeable = False  # shared by every retrieval and stream
        return array

    def identities(self) -> tuple[str, ...]:
        return tuple(self._loops)

    def emotions(self, identity: str) -> tuple[str, ...]:
        """The emotions `identity` has sequences for, in vocabulary order."""
        return tuple(self._identity(identity))

    def sequences(self, identity: str, emotion: str) -> tuple[np.ndarray, ...]:
        """The loops (read-only, (L, 52) float32) of exactly this identity and emotion, no fallback."""
        loops = self._identity(identity)
        if emotion not in loops:
            raise KeyError(f"identity {identity!r} has no {emotion!r} sequences; it has {', '.join(loops)}")
        return loops[emotion]

    def _identity(self, identity: str) -> dict[str, tuple[np.ndarray, ...]]:
        if identity not in self._loops:
            raise KeyError(f"no LEED sequences for identity {identity!r}; known identities: {', '.join(self._loops)}")
        return self._loops[identity]

    def resolve(self, identity: str, emotion: str) -> str:
        """The emotion retrieval uses: `emotion` if the identity has it, else neutral.

        An unknown identity is a KeyError; a name outside the vocabulary a ValueError (a caller's bug, not a gap
        in the dictionary).
        """
        loops = self._identity(identity)
        emotion_index(emotion)
        if emotion in loops:
            return emotion
        if NEUTRAL in loops:
            logger.debug("LEED: identity %r has no %r listening sequences, using %r", identity, emotion, NEUTRAL)
            return NEUTRAL
        raise KeyError(
            f"identity {identity!r} has no {emotion!r} listening sequences and no {NEUTRAL!r} ones to fall back on; "
            f"it has {', '.join(loops)}"
        )

    def pick(self, identity: str, emotion: str, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """A random loop of the identity and (resolved) emotion and a random start frame in it."""
        emotion = self.resolve(identity, emotion)
        loops = self._loops[identity][emotion]
        loop = loops[int(rng.integers(len(loops)))]
        return loop, int(rng.integers(len(loop)))

    def retrieve(self, identity: str, emotion: str, frames: int, rng: np.random.Generator) -> np.ndarray:
        """`frames` listening frames (frames, 52) float32 from a random sequence, looping as long as needed."""
        frames = _frame_count(frames)
        loop, start = self.pick(identity, emotion, rng)
        return _play(loop, start, frames)

    def save(self, path: str | Path) -> None:
        """One compressed .npz: the sequences as given in float16 (loops are rebuilt at load), a JSON index, no pickles.

        float16 steps are under 5e-4 in [0, 1], far below what a rig shows, and halve the bundle's share.
        """
        entries, arrays = [], {}
        for identity, by_emotion in self._raw.items():
            for emotion, sequences in by_emotion.items():
                for sequence in sequences:
                    key = f"sequence_{len(entries):05d}"
                    entries.append({"identity": identity, "emotion": emotion, "array": key})
                    arrays[key] = sequence.astype(np.float16)
        index = {
            "format": _FORMAT,
            "version": _VERSION,
            "crossfade": self.crossfade,
            "max_crossfade": self.max_crossfade,
            "entries": entries,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:  # a file handle keeps numpy from appending ".npz" to the name
            np.savez_compressed(handle, index=np.array(json.dumps(index)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> ListeningDictionary:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"LEED file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a LEED file (.npz): {exc}") from exc
        try:
            index = json.loads(str(arrays["index"]))
            if index.get("format") != _FORMAT or index.get("version") != _VERSION:
                raise ValueError(f"format {index.get('format')!r} version {index.get('version')!r}")
            sequences: dict[str, dict[str, list[np.ndarray]]] = {}
            for entry in index["entries"]:
                by_emotion = sequences.setdefault(entry["identity"], {})
                by_emotion.setdefault(entry["emotion"], []).append(arrays[entry["array"]])
            crossfade, max_crossfade = index["crossfade"], index["max_crossfade"]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"{path} is not a LEED file ({_FORMAT} version {_VERSION}): {exc!r}") from None
        return cls(sequences, crossfade, max_crossfade)


@dataclass
class _Layer:
    """A looping source of a stream, fading in over `below` (what was showing when the emotion changed)."""

    loop: np.ndarray
    position: int
    below: _Layer | None = None
    faded: int = 0  # frames played since the switch


class ListenerExpressionStream:
    """One listener's face across calls: a LEED loop that plays on, and blends into another when the emotion
    changes.

    The random picks happen at construction and at each emotion change only, so the frames do not depend on how
    `next` is chunked: next(10) twice gives what next(20) gives.

    Args:
        dictionary, identity: whose sequences play.
        emotion: the first emotion (resolved as in ListeningDictionary.resolve).
        rng: the stream's random source.
        blend_frames: frames of the smoothstep blend at an emotion change; 0 cuts.
    """

    def __init__(
        self,
        dictionary: ListeningDictionary,
        identity: str,
        emotion: str,
        rng: np.random.Generator,
        blend_frames: int = DEFAULT_BLEND_FRAMES,
    ):
        if operator.index(blend_frames) < 0:
            raise ValueError(f"blend_frames must be >= 0, got {blend_frames}")
        self.dictionary, self.identity, self.blend_frames = dictionary, identity, int(blend_frames)
        self._rng = rng
        self.emotion = dictionary.resolve(identity, emotion)
        self._top = _Layer(*dictionary.pick(identity, self.emotion, rng))
        self.frames_emitted = 0

    @property
    def blending(self) -> bool:
        return self._top.below is not None

    def set_emotion(self, emotion: str) -> None:
        """Blend into a random sequence of `emotion` over blend_frames; the emotion already showing is a no-op."""
        resolved = self.dictionary.resolve(self.identity, emotion)
        if resolved == self.emotion:
            return
        self.emotion = resolved
        loop, start = self.dictionary.pick(self.identity, resolved, self._rng)
        below = self._top
        if below.below is not None and below.faded == 0:
            below = below.below  # a switch that never showed a frame: blend from what is on screen
        if self.frames_emitted == 0 or self.blend_frames == 0:
            below = None  # nothing on screen to blend from, or a cut asked for
        self._top = _Layer(loop, start, below)

    def next(self, frames: int) -> np.ndarray:
        """The stream's next `frames` frames (frames, 52) float32."""
        frames = _frame_count(frames)
        out = self._render(self._top, frames)
        self.frames_emitted += frames
        return out

    def _render(self, layer: _Layer, frames: int) -> np.ndarray:
        own = _play(layer.loop, layer.position, frames)
        layer.position = (layer.position + frames) % len(layer.loop)
        if layer.below is None:
            return own
        under = self._render(layer.below, frames)
        weight = smoothstep((layer.faded + 1 + np.arange(frames)) / (self.blend_frames + 1))
        weight = weight.astype(np.float32)[:, None]
        layer.faded += frames
        if layer.faded >= self.blend_frames:
            layer.below = None
        # (1 - w) * a + w * b is exact at w = 1, so a frame is the same whichever call it falls in.
        return (1.0 - weight) * under + weight * own
