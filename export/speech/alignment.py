"""Do the phone timings describe the audio? Measures from the waveform's energy, for any source's utterances.

A synthesizer's timings are the ones it built its wave from, but a source could still be wired wrong (a wave cut or
padded, a different utterance's timings, milliseconds read as seconds). These checks find that from the audio
alone: the level inside pauses and lip closures against the vowels, where the energy dip of each bilabial falls,
how far the energy onsets after pauses lie from the phones' starts, and the lag that best lines up the energy
expected from the phones with the energy heard (0 when the timings are right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eai_avatar.export.speech.base import SpokenText
from eai_avatar.runtime.motion.visemes import VOWEL_VISEMES
from eai_avatar.vocabulary import SAMPLE_RATE

#: Analysis frame (and step) in seconds: fine enough for 40 ms phones.
FRAME_S = 0.005
#: Levels are in dB relative to the utterance's loud frames (95th percentile), floored here.
FLOOR_DB = -60.0
#: A frame this far below the loud frames counts as quiet (for onsets after pauses).
QUIET_DB = -30.0
#: Lags tried when lining up expected and heard energy.
MAX_LAG_S = 0.2
#: Expected relative energy of each viseme, for the lag search: vowels loud, closures and pauses quiet.
_EXPECTED_LEVEL = {"sil": 0.0, "PP": 0.15, "DD": 0.2, "kk": 0.25, "CH": 0.4, "SS": 0.4, "FF": 0.3, "TH": 0.3,
                   "nn": 0.6, "RR": 0.8, "aa": 1.0, "E": 1.0, "I": 1.0, "O": 1.0, "U": 1.0}  # fmt: skip
_STOP_PHONES = frozenset({"p", "b", "t", "d", "k", "g", "t#", "d#", "dx", "?", "ch", "jh", "tS", "dZ"})


@dataclass(frozen=True)
class AlignmentReport:
    """What the energy says about one utterance's (or several utterances') timings; NaN where nothing was measured."""

    pause_db: float  # median level of frames well inside pauses of 80 ms or more (low when pauses are real)
    vowel_db: float  # median level of vowel frames
    bilabial_dip_db: float  # median (quietest frame of p/b/m) - (median of the vowels on either side)
    closure_inside: float  # fraction of p/b between vowels whose quietest frame (the closure) lies inside their span
    closure_position: float  # median place of that frame in the p/b span: 0 its start, 1 its end, < 0 before it
    onset_error_ms: float  # median |energy onset - phone start| after pauses (onsets that are not stops)
    best_lag_ms: float  # lag of the heard energy behind the expected that correlates best (0: aligned)
    lag_correlation: float  # the correlation at that lag
    bilabials: int  # p/b/m between vowels measured
    onsets: int  # onsets after pauses measured


def levels_db(samples: np.ndarray) -> np.ndarray:
    """RMS level of each FRAME_S frame in dB relative to the loud (95th percentile) frames, floored at FLOOR_DB."""
    frame = int(round(FRAME_S * SAMPLE_RATE))
    count = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: count * frame].astype(np.float64).reshape(count, frame) ** 2, axis=1) + 1e-9)
    reference = max(np.percentile(rms, 95), 1e-6) if count else 1.0
    return np.maximum(20 * np.log10(rms / reference + 1e-12), FLOOR_DB)


def _frames(start: float, end: float, count: int) -> slice:
    return slice(min(count, max(0, int(np.ceil(start / FRAME_S)))), min(count, max(0, int(end / FRAME_S))))


def _measure(spoken: SpokenText) -> dict[str, list[float]]:
    levels = levels_db(spoken.samples)
    count = len(levels)
    phones = spoken.phones
    found: dict[str, list[float]] = {"pause": [], "vowel": [], "dip": [], "inside": [], "position": [], "onset": []}
    for index, phone in enumerate(phones):
        span = levels[_frames(phone.start, phone.end, count)]
        if phone.viseme in VOWEL_VISEMES and phone.phone not in {"w", "y", "j", "hh", "h"}:
            found["vowel"].extend(span.tolist())
        interior = 0 < index < len(phones) - 1
        if phone.is_pause and phone.end - phone.start >= 0.08:
            found["pause"].extend(levels[_frames(phone.start + 0.02, phone.end - 0.02, count)].tolist())
        if phone.viseme == "PP" and interior and len(span):
            before, after = phones[index - 1], phones[index + 1]
            if before.viseme in VOWEL_VISEMES and after.viseme in VOWEL_VISEMES:
                # the quietest frame in the phone and its neighbours' spans: inside the phone when the times are right
                window = _frames(before.start, after.end, count)
                around = levels[window]
                quietest_s = (window.start + int(np.argmin(around)) + 0.5) * FRAME_S
                neighbours = np.concatenate([levels[_frames(p.start, p.end, count)] for p in (before, after)])
                found["dip"].append(float(span.min() - np.median(neighbours)))
                if phone.phone.lower() in {"p", "b"}:  # a nasal's murmur is steady: its quietest frame means little
                    found["inside"].append(float(phone.start - FRAME_S <= quietest_s <= phone.end + FRAME_S))
                    found["position"].append((quietest_s - phone.start) / max(phone.end - phone.start, FRAME_S))
        if phone.is_pause and index + 1 < len(phones) and phone.end - phone.start >= 0.05:
            following = phones[index + 1]
            if not following.is_pause and following.phone not in _STOP_PHONES:
                search = _frames(phone.start + 0.5 * (phone.end - phone.start), following.end, count)
                loud = np.flatnonzero(levels[search] > QUIET_DB)
                if len(loud):
                    onset_s = (search.start + loud[0]) * FRAME_S
                    found["onset"].append(abs(onset_s - phone.end))
    return found


def _best_lag(utterances: list[SpokenText]) -> tuple[float, float]:
    expected, heard = [], []
    for spoken in utterances:
        levels = levels_db(spoken.samples)
        times = (np.arange(len(levels)) + 0.5) * FRAME_S
        target = np.zeros(len(levels))
        for phone in spoken.phones:
            target[(times >= phone.start) & (times < phone.end)] = _EXPECTED_LEVEL[phone.viseme]
        pad = int(MAX_LAG_S / FRAME_S)  # silence between utterances, so a lag never reads the next one
        expected.append(np.concatenate([target, np.zeros(pad)]))
        heard.append(np.concatenate([(levels - FLOOR_DB) / -FLOOR_DB, np.zeros(pad)]))
    expected_all, heard_all = np.concatenate(expected), np.concatenate(heard)
    best = (0.0, -1.0)
    for lag in range(-int(MAX_LAG_S / FRAME_S), int(MAX_LAG_S / FRAME_S) + 1):
        shifted = np.roll(heard_all, -lag)  # heard energy `lag` frames later lines up with expected now
        correlation = float(np.corrcoef(expected_all, shifted)[0, 1])
        if correlation > best[1]:
            best = (lag * FRAME_S * 1000.0, correlation)
    return best


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def alignment_report(utterances: list[SpokenText]) -> AlignmentReport:
    """The energy checks over `utterances` (one voice's, say), pooled."""
    if not utterances:
        raise ValueError("alignment_report needs at least one utterance")
    pooled: dict[str, list[float]] = {}
    for spoken in utterances:
        for key, values in _measure(spoken).items():
            pooled.setdefault(key, []).extend(values)
    lag_ms, correlation = _best_lag(utterances)
    return AlignmentReport(
        pause_db=_median(pooled["pause"]),
        vowel_db=_median(pooled["vowel"]),
        bilabial_dip_db=_median(pooled["dip"]),
        closure_inside=float(np.mean(pooled["inside"])) if pooled["inside"] else float("nan"),
        closure_position=_median(pooled["position"]),
        onset_error_ms=_median(pooled["onset"]) * 1000.0,
        best_lag_ms=lag_ms,
        lag_correlation=correlation,
        bilabials=len(pooled["dip"]),
        onsets=len(pooled["onset"]),
    )
