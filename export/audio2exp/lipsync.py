"""Lip sync on voices Audio2Exp never heard: `eai-avatar eval lipsync --speech DIR`, scored per voice.

Audio2Exp was trained on espeak-ng speech only. This evaluation takes a folder of utterances of any voice with
phone timings, runs the exported model exactly as the runtime runs a voice line, and scores the mouth against the
timings. A reference row scores the studio's phoneme -> viseme -> ARKit path (`viseme_curves`) on the same timings.

Input (`read_speech_utterance` is the one reader of it)::

    DIR/<id>.wav    mono PCM16, 16 kHz (other rates are resampled)
    DIR/<id>.json   {"text": str, "voice": "festival:kdlpc16k", "phone_set": str,
                     "phones": [{"phone": "p", "start": 0.12, "end": 0.19, "viseme": "PP"}, ...]}

Times are seconds from the start of the wav; pauses are phones with viseme "sil"; visemes are `VISEMES`.

The model runs as `SpeakerFaces` runs a voice line: the audio padded to whole 40 ms frames, neutral emotion,
through `ExpressionStream` pushed in the runtime's chunking (`RuntimeConfig().chunking`: 3 frames, then 12). Frame k
covers [k / 25, (k + 1) / 25) s; its centre is (k + 0.5) / 25 s.

Metrics (per voice, and "overall" pooling every utterance; counts are reported with each figure):

- Lips touch in a frame when the rig's inner-lip opening is at most LIPS_TOUCH_OPENING = 0.015 head units. The
  opening is measured on the canonical `FaceRig` (default `RigParams`; the head's half-width is 1) for the frame's
  52 weights: the largest vertical gap (lower minus upper, y down) between an inner upper and an inner lower lip
  landmark of the same column (the 5 pairs that share an x at rest), frontal, no head pose. Why 0.015: the studio
  draws the inner-lip outline with a stroke 0.015 head units wide (`CharacterRenderer._draw_mouth`), so a
  narrower gap shows no mouth interior. The rest pose (opening 0.008) and the PP viseme target (-0.029: the lips
  pressed past each other) count as closed; the nearest open targets are FF and SS (0.062), DD (0.085); aa is 0.301.
- bilabial closure rate: of the phone segments with viseme PP (p, b, m), the fraction in which the lips touch in
  at least one frame overlapping the segment (frame k overlaps [start, end) when k / 25 < end and
  (k + 1) / 25 > start; an empty segment overlaps none and is not counted). Also the median, over those
  segments, of the smallest opening in their frames.
- jawOpen in open vowels: mean jawOpen over the frames whose centre lies in a segment with viseme aa, O or E,
  excluding reduced vowels and h (`is_reduced_or_h`: espeak "@", "@2", "@5", "@L", ARPAbet "ax", "ah0", IPA "ə";
  espeak maps h to E so that it takes its neighbours' shape, but it is not a vowel).
- jawOpen in bilabials: mean jawOpen over the frames whose centre lies in a PP segment; the ratio is the open-vowel
  mean over the bilabial mean (higher: the jaw tells vowels from closures).
- correlation: Pearson's r between jawOpen and an open-vowel indicator (1 in the frames whose centre lies in an
  open vowel as above, else 0) over every frame of every utterance, pooled.
- audio-visual offset: the lag L in -5..+5 frames maximizing r between jawOpen[k + L] and the indicator[k] (pairs
  within each utterance, pooled); positive L = the mouth is late. Ties go to the smallest |L|.
- jawOpen in pauses: mean jawOpen over the frames whose centre lies in a sil segment longer than 100 ms, at least
  40 ms from both its edges (the mouth is allowed that long to close or open).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from eai_avatar.export.speech.base import Phone, is_reserved_voice
from eai_avatar.runtime.motion.visemes import VISEMES, viseme_curves
from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import BLENDSHAPE_INDEX, FPS, NEUTRAL, SAMPLE_RATE, SAMPLES_PER_FRAME

JAW_OPEN = BLENDSHAPE_INDEX["jawOpen"]
#: The stroke width of the studio's inner-lip outline, in head units: a narrower gap between the lips shows nothing.
LIPS_TOUCH_OPENING = 0.015
OPEN_VOWEL_VISEMES = frozenset({"aa", "O", "E"})
BILABIAL_VISEME = "PP"
MIN_PAUSE_S = 0.1
PAUSE_EDGE_S = 0.04
MAX_LAG_FRAMES = 5
#: Reduced vowels (espeak's schwas and syllabic l, ARPAbet's, IPA's) and h, which espeak labels E but is no vowel.
REDUCED_OR_H_PHONES = frozenset({"@", "@2", "@5", "@l", "ə", "ax", "ah0", "h", "hh", "ɦ"})
#: One espeak-ng mnemonic per viseme, so `viseme_curves` (which reads espeak mnemonics) can run from visemes alone.
VISEME_PHONEME = {"sil": "_", "PP": "p", "FF": "f", "TH": "T", "DD": "d", "kk": "k", "CH": "S", "SS": "s",
                  "nn": "n", "RR": "r", "aa": "a", "E": "E", "I": "I", "O": "O", "U": "u:"}  # fmt: skip
_STRESS = "'ˈˌ,%="
#: Name parts of the CMU voices kept for independent evaluation (export/speech's RESERVED_VOICE_TOKENS, repeated
#: here until that package lands; reconcile then).


# ---------------------------------------------------------------------------------------------------- the input


@dataclass(frozen=True)
class SpeechUtterance:
    """One utterance of a speech folder, its audio at 16 kHz and its phones in time order."""

    utterance_id: str
    text: str
    voice: str
    phone_set: str
    samples: np.ndarray  # int16 at 16 kHz
    phones: tuple[Phone, ...]


def read_speech_utterance(wav_path: Path) -> SpeechUtterance:
    """`<id>.wav` and its `<id>.json` (the format in the module docstring) -> a SpeechUtterance at 16 kHz.

    ValueError naming the file and the field for a missing json, malformed json, an unknown viseme or a bad time.
    """
    from eai_avatar.runtime.audio import resample
    from eai_avatar.runtime.demo import read_wav

    wav_path = Path(wav_path)
    json_path = wav_path.with_suffix(".json")
    if not json_path.is_file():
        raise ValueError(f"{wav_path} has no {json_path.name} beside it (text, voice and phone timings)")
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{json_path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{json_path}: expected an object with text, voice, phone_set and phones")
    for key in ("text", "voice", "phone_set"):
        if not isinstance(data.get(key), str):
            raise ValueError(f"{json_path}: {key!r} must be a string, got {data.get(key)!r}")
    if is_reserved_voice(data["voice"]):
        raise ValueError(f"{json_path}: voice {data['voice']!r} is reserved: the CMU slt and kal voices are kept for "
                         "independent evaluation by other people, and this project never scores them")  # fmt: skip
    if not isinstance(data.get("phones"), list) or not data["phones"]:
        raise ValueError(f"{json_path}: 'phones' must be a non-empty list of {{phone, start, end, viseme}}")
    phones = []
    for number, item in enumerate(data["phones"]):
        where = f"{json_path}: phones[{number}]"
        if not isinstance(item, dict) or not isinstance(item.get("phone"), str):
            raise ValueError(f"{where} must be an object with a string 'phone', got {item!r}")
        times = [item.get("start"), item.get("end")]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) for t in times):
            raise ValueError(f"{where} ({item['phone']!r}): start and end must be finite seconds, got {times}")
        if times[0] < 0 or times[1] < times[0]:
            raise ValueError(f"{where} ({item['phone']!r}): needs 0 <= start <= end, got {times}")
        if item.get("viseme") not in VISEMES:
            raise ValueError(f"{where} ({item['phone']!r}): unknown viseme {item.get('viseme')!r}; "
                             f"known: {', '.join(VISEMES)}")  # fmt: skip
        phones.append(Phone(item["phone"], float(times[0]), float(times[1]), item["viseme"]))
    samples, rate = read_wav(wav_path)
    if rate != SAMPLE_RATE:
        samples = resample(samples, rate, SAMPLE_RATE)
    return SpeechUtterance(wav_path.stem, data["text"], data["voice"], data["phone_set"], samples,
                           tuple(sorted(phones, key=lambda p: (p.start, p.end))))  # fmt: skip


def speech_folder_wavs(folder: Path) -> list[Path]:
    """The utterances' wav files of a speech folder, sorted; ValueError for an empty folder or a wav without json."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such speech folder: {folder}")
    wavs = sorted(folder.glob("*.wav"))
    if not wavs:
        raise ValueError(f"{folder} holds no <id>.wav utterances (each with an <id>.json of its phone timings)")
    lonely = [w.name for w in wavs if not w.with_suffix(".json").is_file()]
    if lonely:
        raise ValueError(f"{folder}: {len(lonely)} wav file(s) without their json: {', '.join(lonely[:5])}")
    return wavs


# ---------------------------------------------------------------------------------------------------- the faces


def runtime_voice_line_faces(generator, samples: np.ndarray, chunking=None) -> np.ndarray:
    """(frames, 52) blendshapes of one voice line, made as the runtime makes them: the audio padded to whole frames
    (`SpeakerFaces.add_speech`), neutral emotion, pushed through an `ExpressionStream` in the runtime's chunking."""
    from eai_avatar.runtime.config import RuntimeConfig

    chunking = chunking or RuntimeConfig().chunking
    frames = max(1, math.ceil(len(samples) / SAMPLES_PER_FRAME))
    padded = np.zeros(frames * SAMPLES_PER_FRAME, np.int16)
    padded[: len(samples)] = samples
    stream = generator.stream(NEUTRAL)
    made, position = [], 0
    size = min(chunking.first_chunk_frames, chunking.chunk_frames)
    while position < len(padded):
        made.append(stream.push(padded[position : position + size * SAMPLES_PER_FRAME]))
        position += size * SAMPLES_PER_FRAME
        size = chunking.chunk_frames
    made.append(stream.finish())
    faces = np.concatenate(made)[:frames]
    if len(faces) < frames:  # past the end of the voice the mouth rests, as SpeakerFaces.process does
        faces = np.concatenate([faces, np.zeros((frames - len(faces), faces.shape[1]), faces.dtype)])
    return faces


def viseme_baseline_faces(phones: Sequence[Phone], frames: int) -> np.ndarray:
    """(frames, 52): the studio's viseme path (`viseme_curves`, coarticulation and closures) on the phones' visemes."""
    timings = [PhonemeTiming(VISEME_PHONEME[p.viseme], p.start, p.end) for p in phones]
    return viseme_curves(timings, frames)


# ---------------------------------------------------------------------------------------------------- the rig


@lru_cache(maxsize=1)
def _opening_basis() -> tuple[np.ndarray, np.ndarray]:
    """The inner-lip gaps of the canonical rig as a linear function of the weights: (neutral (5,), basis (52, 5))."""
    from eai_avatar.runtime.rig.face_rig import FaceRig

    rig = FaceRig()
    inner = rig.slices["lips_inner"]
    # lips_inner is 7 upper points left to right, then the lower points right to left without the two corners.
    upper = np.arange(inner.start + 1, inner.start + 6)
    lower = np.arange(inner.stop - 1, inner.start + 6, -1)
    if not np.allclose(rig.neutral[upper, 0], rig.neutral[lower, 0]):
        raise RuntimeError("the face rig's inner-lip contour changed: its upper and lower points no longer pair up")
    neutral = rig.neutral[lower, 1] - rig.neutral[upper, 1]
    basis = rig.basis[:, lower, 1] - rig.basis[:, upper, 1]
    return neutral.astype(np.float64), basis.astype(np.float64)


def inner_lip_opening(weights: np.ndarray) -> np.ndarray:
    """(frames, 52) or (52,) weights -> the rig's inner-lip opening per frame in head units (<= 0.015: touching)."""
    neutral, basis = _opening_basis()
    gaps = neutral + np.clip(np.asarray(weights, np.float64), 0.0, 1.0) @ basis  # FaceRig.landmarks clips too
    return gaps.max(axis=-1)


# ---------------------------------------------------------------------------------------------------- the metrics


def is_reduced_or_h(phone: str) -> bool:
    """True for reduced vowels (schwas, syllabic l) and h, which the open-vowel figures leave out."""
    return phone.strip().strip(_STRESS).lower() in REDUCED_OR_H_PHONES


def _centres(frames: int) -> np.ndarray:
    return (np.arange(frames) + 0.5) / FPS


def _overlapping(phone: Phone, frames: int) -> range:
    """Frames k with k / FPS < end and (k + 1) / FPS > start (a tolerance keeps 0.28 * 25 from overlapping frame 7)."""
    first = max(0, math.floor(phone.start * FPS + 1e-9))
    stop = min(frames, math.ceil(phone.end * FPS - 1e-9))
    return range(first, max(first, stop))


def _inside(phone: Phone, centres: np.ndarray, margin: float = 0.0) -> np.ndarray:
    return (centres >= phone.start + margin) & (centres < phone.end - margin)


def open_vowel_indicator(phones: Sequence[Phone], frames: int) -> np.ndarray:
    """Boolean (frames,): the frame's centre lies in an aa, O or E segment that is not a reduced vowel or h."""
    centres, inside = _centres(frames), np.zeros(frames, bool)
    for phone in phones:
        if phone.viseme in OPEN_VOWEL_VISEMES and not is_reduced_or_h(phone.phone):
            inside |= _inside(phone, centres)
    return inside


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or a.std() < 1e-9 or b.std() < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def _lagged(pairs: Sequence[tuple[np.ndarray, np.ndarray]], lag: int) -> tuple[np.ndarray, np.ndarray]:
    """jawOpen[k + lag] and indicator[k] over every utterance, for the k where both exist."""
    jaws, marks = [], []
    for jaw, indicator in pairs:
        n = len(jaw)
        if abs(lag) >= n:
            continue
        jaws.append(jaw[max(lag, 0) : n + min(lag, 0)])
        marks.append(indicator[max(-lag, 0) : n - max(lag, 0)])
    if not jaws:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(jaws), np.concatenate(marks).astype(np.float64)


def _mean(values: list[np.ndarray]) -> float | None:
    joined = np.concatenate(values) if values else np.zeros(0)
    return float(joined.mean()) if len(joined) else None


def lipsync_metrics(utterances: Iterable[tuple[np.ndarray, Sequence[Phone]]]) -> dict:
    """Pooled metrics (module docstring) of (blendshapes (frames, 52), phones) pairs; None where nothing to measure."""
    closed = segments = frames_total = 0
    smallest_openings, vowel_jaw, bilabial_jaw, pause_jaw = [], [], [], []
    vowel_segments = pause_segments = 0
    pairs = []
    for blendshapes, phones in utterances:
        blendshapes = np.asarray(blendshapes, np.float64)
        frames = len(blendshapes)
        frames_total += frames
        jaw, opening, centres = blendshapes[:, JAW_OPEN], inner_lip_opening(blendshapes), _centres(frames)
        indicator = open_vowel_indicator(phones, frames)
        pairs.append((jaw, indicator))
        vowel_jaw.append(jaw[indicator])
        for phone in phones:
            if phone.viseme == BILABIAL_VISEME:
                overlapping = _overlapping(phone, frames)
                if len(overlapping):
                    segments += 1
                    smallest = float(opening[overlapping.start : overlapping.stop].min())
                    smallest_openings.append(smallest)
                    closed += smallest <= LIPS_TOUCH_OPENING
                bilabial_jaw.append(jaw[_inside(phone, centres)])
            elif phone.viseme in OPEN_VOWEL_VISEMES and not is_reduced_or_h(phone.phone):
                vowel_segments += bool(_inside(phone, centres).any())
            elif phone.viseme == "sil" and phone.end - phone.start > MIN_PAUSE_S:
                trimmed = _inside(phone, centres, PAUSE_EDGE_S)
                pause_segments += bool(trimmed.any())
                pause_jaw.append(jaw[trimmed])
    vowel_mean, bilabial_mean = _mean(vowel_jaw), _mean(bilabial_jaw)
    correlations = {lag: _pearson(*_lagged(pairs, lag)) for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1)}
    known = [lag for lag, r in correlations.items() if r is not None]
    offset = max(known, key=lambda lag: (correlations[lag], -abs(lag))) if known else None
    ratio = None
    if vowel_mean is not None and bilabial_mean is not None and bilabial_mean > 1e-6:
        ratio = vowel_mean / bilabial_mean
    return {
        "utterances": len(pairs),
        "frames": frames_total,
        "bilabial_closure_rate": closed / segments if segments else None,
        "bilabial_segments": segments,
        "bilabial_segments_closed": int(closed),
        "bilabial_smallest_opening_median": float(np.median(smallest_openings)) if smallest_openings else None,
        "jaw_open_in_open_vowels_mean": vowel_mean,
        "open_vowel_segments": vowel_segments,
        "open_vowel_frames": int(sum(len(v) for v in vowel_jaw)),
        "jaw_open_in_bilabials_mean": bilabial_mean,
        "bilabial_frames": int(sum(len(v) for v in bilabial_jaw)),
        "open_vowel_to_bilabial_jaw_ratio": ratio,
        "jaw_open_open_vowel_r": correlations[0],
        "correlation_frames": len(_lagged(pairs, 0)[0]),
        "offset_frames": offset,
        "correlation_at_offset": correlations[offset] if offset is not None else None,
        "jaw_open_in_pauses_mean": _mean(pause_jaw),
        "pause_segments": pause_segments,
        "pause_frames": int(sum(len(v) for v in pause_jaw)),
    }


# ---------------------------------------------------------------------------------------------------- the report


def evaluate_lipsync(folder: Path, generator, model_label: str, progress: Callable | None = None) -> dict:
    """Every utterance of `folder` through `generator` (the runtime's way) and the viseme baseline, scored."""
    from eai_avatar.runtime.config import RuntimeConfig

    chunking = RuntimeConfig().chunking
    wavs = speech_folder_wavs(folder)
    by_voice: dict[str, dict[str, list]] = {}
    phone_sets: dict[str, set[str]] = {}
    for wav in progress(wavs, desc="lip sync", unit="utterance") if progress else wavs:
        utterance = read_speech_utterance(wav)
        faces = runtime_voice_line_faces(generator, utterance.samples, chunking)
        baseline = viseme_baseline_faces(utterance.phones, len(faces))
        group = by_voice.setdefault(utterance.voice, {"model": [], "baseline": []})
        group["model"].append((faces, utterance.phones))
        group["baseline"].append((baseline, utterance.phones))
        phone_sets.setdefault(utterance.voice, set()).add(utterance.phone_set)
    voices = {
        voice: {"phone_sets": sorted(phone_sets[voice]), "model": lipsync_metrics(group["model"]),
                "baseline": lipsync_metrics(group["baseline"])}
        for voice, group in sorted(by_voice.items())
    }  # fmt: skip
    overall = {"phone_sets": sorted(set().union(*phone_sets.values())),
               "model": lipsync_metrics(pair for g in by_voice.values() for pair in g["model"]),
               "baseline": lipsync_metrics(pair for g in by_voice.values() for pair in g["baseline"])}  # fmt: skip
    return {
        "speech": str(folder),
        "model": model_label,
        "settings": {
            "emotion": NEUTRAL,
            "first_chunk_frames": chunking.first_chunk_frames,
            "chunk_frames": chunking.chunk_frames,
            "context_frames": generator.context,
            "lips_touch_opening": LIPS_TOUCH_OPENING,
            "min_pause_s": MIN_PAUSE_S,
            "pause_edge_s": PAUSE_EDGE_S,
            "max_lag_frames": MAX_LAG_FRAMES,
        },  # fmt: skip
        "voices": voices,
        "overall": overall,
    }


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _row(voice: str, path: str, m: dict) -> str:
    closure = f"{_figure(m['bilabial_closure_rate'])} ({m['bilabial_segments_closed']}/{m['bilabial_segments']})"
    offset = "n/a"
    if m["offset_frames"] is not None:
        offset = f"{m['offset_frames']:+d} (r {_figure(m['correlation_at_offset'])})"
    return (f"| {voice} | {path} | {m['utterances']} | {closure} | {_figure(m['bilabial_smallest_opening_median'])} | "
            f"{_figure(m['jaw_open_in_open_vowels_mean'])} ({m['open_vowel_frames']}) | "
            f"{_figure(m['jaw_open_in_bilabials_mean'])} ({m['bilabial_frames']}) | "
            f"{_figure(m['open_vowel_to_bilabial_jaw_ratio'], 2)} | "
            f"{_figure(m['jaw_open_open_vowel_r'])} ({m['correlation_frames']}) | {offset} | "
            f"{_figure(m['jaw_open_in_pauses_mean'])} ({m['pause_frames']}) |")  # fmt: skip


def to_markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"Lip sync on {report['overall']['model']['utterances']} utterances of {len(report['voices'])} voice(s) in "
        f"`{report['speech']}`. Audio2Exp: {report['model']}, run as the runtime runs a voice line (streamed in "
        f"chunks of {s['first_chunk_frames']} then {s['chunk_frames']} frames, {s['emotion']} emotion). Viseme "
        "baseline: the studio's phoneme -> viseme -> ARKit path on the same phone timings.", "",
        "| voice | face from | utterances | bilabial closure (closed/segments) | smallest lip opening in bilabials "
        "(median) | jawOpen in open vowels (frames) | jawOpen in bilabials (frames) | vowel / bilabial jaw | "
        "r(jawOpen, open vowel) (frames) | offset, frames (r) | jawOpen in pauses (frames) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for voice, entry in [*report["voices"].items(), ("overall", report["overall"])]:
        lines.append(_row(voice, "Audio2Exp", entry["model"]))
        lines.append(_row(voice, "viseme baseline", entry["baseline"]))
    lines += [
        "",
        f"Lips touch when the face rig's inner-lip opening is at most {s['lips_touch_opening']} head units (the "
        "width of the inner-lip outline the studio draws; rest 0.008 and the PP viseme -0.029 are closed, FF and SS "
        "0.062 and aa 0.301 open). Bilabial closure: PP segments (p, b, m) in which the lips touch in at least one "
        "frame overlapping the segment. Open vowels: frames centred in aa, O or E segments, reduced vowels (schwa, "
        "syllabic l) and h left out. r: Pearson's r of jawOpen and the open-vowel indicator over all frames; offset: "
        f"the lag in -{s['max_lag_frames']}..+{s['max_lag_frames']} frames maximizing it (positive = mouth late). "
        f"Pauses: sil segments longer than {s['min_pause_s'] * 1000:.0f} ms, {s['pause_edge_s'] * 1000:.0f} ms "
        "trimmed at each edge. Overall pools every utterance.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"
