"""Lip sync from phoneme timings: espeak-ng phonemes -> Meta/Oculus visemes -> ARKit blendshape curves at 25 fps.

The 15 Meta (Oculus) visemes are the de-facto interchange set for real-time lip sync: few enough that each has a
distinct, rig-independent mouth shape, and enough to separate what a viewer reads on lips (closures, lip-teeth
contact, rounding, spreading, jaw height). Each phoneme picks one viseme (diphthongs glide through two or three),
each viseme is a target pose of ARKit weights, and `viseme_curves` blends the targets over time with
Cohen-Massaro coarticulation so that neighbouring sounds shape each other as they do in real speech.

Viseme table (the README points here; the authoritative values are `PHONEME_TO_VISEME` and `VISEME_TARGETS`)::

    viseme | espeak-ng phonemes (English voices)       | main ARKit weights of the target
    -------+-------------------------------------------+--------------------------------------------------------
    sil    | _ (pause), and any time outside phonemes  | all zero: jaw and lips at rest, mouth closed
    PP     | p b m (syllabic m-)                       | jawOpen 0.02, mouthClose 0.35, mouthPress 0.6, roll 0.2
    FF     | f v                                       | jawOpen 0.08, mouthRollLower 0.55, mouthUpperUp 0.25
    TH     | T D                                       | jawOpen 0.15, tongueOut 0.4, mouthLowerDown 0.15
    DD     | t d (and flaps t# d#)                     | jawOpen 0.13, mouthLowerDown 0.15, mouthStretch 0.1
    kk     | k g N x ?                                 | jawOpen 0.22, mouthStretch 0.15, mouthLowerDown 0.12
    CH     | tS dZ S Z                                 | jawOpen 0.12, mouthFunnel 0.45, mouthPucker 0.25, lips out
    SS     | s z                                       | jawOpen 0.06, mouthStretch 0.3, mouthUpperUp/LowerDown 0.15
    nn     | n l (and syllabic n- l- @L, dark l/)      | jawOpen 0.15, mouthLowerDown 0.12, mouthStretch 0.08
    RR     | r (r- 3)                                  | jawOpen 0.14, mouthFunnel 0.3, mouthPucker 0.3
    aa     | a A: A@ V aa a# (onset of aI aU)          | jawOpen 0.6, mouthLowerDown 0.3, mouthUpperUp 0.1
    E      | E e e@ @ 3: h (onset of eI; @ schwa)      | jawOpen 0.35, mouthStretch 0.3, mouthLowerDown 0.25
    I      | I i i: I2 I# j (glide of aI eI OI)        | jawOpen 0.2, mouthStretch 0.45, mouthSmile 0.25
    O      | 0 O: O@ o@ o O (onset of OI oU)           | jawOpen 0.4, mouthFunnel 0.55, mouthPucker 0.2
    U      | U u: u w (glide of aU oU; onset of U@)    | jawOpen 0.15, mouthPucker 0.7, mouthFunnel 0.35

Diphthongs and triphthongs (`DIPHTHONG_VISEMES`) split their span: aI = aa->I, aU = aa->U, eI = E->I, OI = O->I,
oU = O->U, I@ = I->E, U@ = U->E, @L = E->nn, aI@ = aa->I->E, aU@ = aa->U->E.

ARPAbet (Festival's "radio" and flite's US English phone sets, CMUdict without stress digits) has its own table,
`ARPABET_TO_VISEME` (`viseme_for_arpabet`), chosen to agree with the espeak-ng table above sound for sound::

    viseme | ARPAbet phones                            | espeak-ng counterpart
    -------+-------------------------------------------+--------------------------------------------------------
    sil    | pau h# brth                               | _
    PP     | p b m em                                  | p b m m-
    FF     | f v                                       | f v
    TH     | th dh                                     | T D
    DD     | t d dx                                    | t d t#
    kk     | k g ng                                    | k g N
    CH     | ch jh sh zh                               | tS dZ S Z
    SS     | s z                                       | s z
    nn     | n l el en nx                              | n l l- n- @L
    RR     | r er axr                                  | r 3 (er is r-coloured throughout in US English; espeak
           |                                           | writes it 3 unstressed, 3: stressed, which it maps to E)
    aa     | aa ae ah aw ay                            | A: a V aU aI (diphthongs by their onset)
    E      | eh ey ax hh hv                            | E eI @ h
    I      | ih iy y                                   | I i: j
    O      | ao ow oy                                  | O: oU OI
    U      | uh uw w                                   | U u: w

ARPAbet diphthongs (aw ay ey ow oy) take the viseme of their onset. An ARPAbet symbol outside the table is a
ValueError, because the set is closed and an unknown one means the wrong phone set was given.

Unknown mnemonics are handled without logging (a TTS voice may emit marks this table lacks): stress marks
(' , % =) are stripped, then length and variant marks (: # / - ; ! ~ ^ and digits), then the longest known prefix
is tried; what is still unknown becomes a neutral mid-open vowel (E) when it looks like a vowel, else a slight
closure (DD).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from eai_avatar.runtime.tts.base import PhonemeTiming
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, BLENDSHAPE_INDEX, FPS

#: The 15 Meta/Oculus visemes, in Meta's order.
VISEMES: tuple[str, ...] = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")
#: Visemes that are vowels (used by the head-motion model to find syllable nuclei).
VOWEL_VISEMES: frozenset[str] = frozenset({"aa", "E", "I", "O", "U"})


def _lr(left_right: str, value: float) -> dict[str, float]:
    """Both sides of a symmetric ARKit pair, e.g. _lr("mouthSmile", 0.2) -> mouthSmileLeft/Right = 0.2."""
    return {f"{left_right}Left": value, f"{left_right}Right": value}


#: Target pose of each viseme as ARKit weights in [0, 1]; shapes not named are 0. sil is the closed rest pose.
VISEME_TARGETS: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {  # lips pressed together: the jaw nearly shut, lips sealed and slightly rolled in
        "jawOpen": 0.02,
        "mouthClose": 0.35,
        **_lr("mouthPress", 0.6),
        "mouthRollLower": 0.2,
        "mouthRollUpper": 0.12,
    },
    "FF": {  # lower lip tucked under the upper teeth
        "jawOpen": 0.08,
        "mouthRollLower": 0.55,
        **_lr("mouthUpperUp", 0.25),
        **_lr("mouthPress", 0.1),
        "mouthShrugUpper": 0.1,
    },
    "TH": {  # tongue tip between the teeth
        "jawOpen": 0.15,
        "tongueOut": 0.4,
        **_lr("mouthLowerDown", 0.15),
        **_lr("mouthUpperUp", 0.08),
    },
    "DD": {  # teeth almost together, lips slightly apart, tongue hidden on the ridge
        "jawOpen": 0.13,
        **_lr("mouthLowerDown", 0.15),
        **_lr("mouthUpperUp", 0.08),
        **_lr("mouthStretch", 0.1),
    },
    "kk": {  # back of the tongue raised; the jaw a little more open than for DD
        "jawOpen": 0.22,
        **_lr("mouthStretch", 0.15),
        **_lr("mouthLowerDown", 0.12),
    },
    "CH": {  # postalveolars: lips protruded and funnelled, teeth close
        "jawOpen": 0.12,
        "mouthFunnel": 0.45,
        "mouthPucker": 0.25,
        **_lr("mouthUpperUp", 0.25),
        **_lr("mouthLowerDown", 0.25),
        "mouthShrugUpper": 0.15,
    },
    "SS": {  # teeth together, lips spread to show them
        "jawOpen": 0.06,
        **_lr("mouthStretch", 0.3),
        **_lr("mouthUpperUp", 0.15),
        **_lr("mouthLowerDown", 0.15),
        **_lr("mouthSmile", 0.1),
    },
    "nn": {  # tongue on the ridge, jaw slightly open, lips relaxed
        "jawOpen": 0.15,
        **_lr("mouthLowerDown", 0.12),
        **_lr("mouthStretch", 0.08),
    },
    "RR": {  # English r: lips slightly rounded and protruded
        "jawOpen": 0.14,
        "mouthFunnel": 0.3,
        "mouthPucker": 0.3,
        **_lr("mouthUpperUp", 0.1),
    },
    "aa": {  # open vowel: the jaw drops most
        "jawOpen": 0.6,
        **_lr("mouthLowerDown", 0.3),
        **_lr("mouthUpperUp", 0.1),
        **_lr("mouthStretch", 0.1),
    },
    "E": {  # mid front vowel: half open, lips spread a little
        "jawOpen": 0.35,
        **_lr("mouthStretch", 0.3),
        **_lr("mouthLowerDown", 0.25),
        **_lr("mouthUpperUp", 0.15),
        **_lr("mouthSmile", 0.1),
    },
    "I": {  # close front vowel: jaw high, lips spread
        "jawOpen": 0.2,
        **_lr("mouthStretch", 0.45),
        **_lr("mouthSmile", 0.25),
        **_lr("mouthUpperUp", 0.2),
        **_lr("mouthLowerDown", 0.2),
    },
    "O": {  # back rounded vowel: open and funnelled
        "jawOpen": 0.4,
        "mouthFunnel": 0.55,
        "mouthPucker": 0.2,
        **_lr("mouthLowerDown", 0.1),
    },
    "U": {  # close rounded vowel: jaw high, lips puckered
        "jawOpen": 0.15,
        "mouthPucker": 0.7,
        "mouthFunnel": 0.35,
    },
}

#: Coarticulation parameters per viseme: (dominance strength, attack s, release s). Strength says how much a sound
#: resists its neighbours (lip closures and lip-teeth contact are visible and must be reached; alveolars and
#: velars are made with the tongue, so the jaw and lips follow the vowels). Attack is how early a sound starts
#: to shape the mouth before its core (anticipation, longest for lip rounding); release is how long it lingers.
VISEME_DOMINANCE: dict[str, tuple[float, float, float]] = {
    "sil": (1.0, 0.06, 0.06),
    "PP": (1.0, 0.06, 0.06),
    "FF": (0.9, 0.07, 0.06),
    "TH": (0.6, 0.07, 0.06),
    "DD": (0.45, 0.07, 0.06),
    "kk": (0.4, 0.07, 0.06),
    "CH": (0.85, 0.09, 0.07),
    "SS": (0.7, 0.07, 0.06),
    "nn": (0.45, 0.07, 0.06),
    "RR": (0.7, 0.09, 0.07),
    "aa": (0.8, 0.08, 0.08),
    "E": (0.7, 0.08, 0.08),
    "I": (0.7, 0.08, 0.08),
    "O": (0.8, 0.1, 0.08),
    "U": (0.8, 0.1, 0.08),
}

#: espeak-ng English phoneme mnemonic -> viseme (for diphthongs: the onset; see `DIPHTHONG_VISEMES`).
PHONEME_TO_VISEME: dict[str, str] = {
    # pauses
    "_": "sil",
    # bilabials
    "p": "PP", "b": "PP", "m": "PP", "m-": "PP",
    # labiodentals
    "f": "FF", "v": "FF",
    # dentals
    "T": "TH", "D": "TH",
    # alveolar stops and flaps
    "t": "DD", "d": "DD", "t#": "DD", "d#": "DD", "t2": "DD", "d2": "DD",
    # velars, glottal stop, velar fricative
    "k": "kk", "g": "kk", "N": "kk", "x": "kk", "?": "kk",
    # postalveolars
    "tS": "CH", "dZ": "CH", "S": "CH", "Z": "CH",
    # sibilants
    "s": "SS", "z": "SS",
    # nasals and laterals
    "n": "nn", "l": "nn", "n-": "nn", "l-": "nn", "l/": "nn", "@L": "nn",
    # rhotics
    "r": "RR", "r-": "RR", "3": "RR", "@r": "RR",
    # glides and h (h takes its neighbours' shape through its low dominance)
    "w": "U", "W": "U", "j": "I", "h": "E",
    # open vowels
    "a": "aa", "a#": "aa", "aa": "aa", "A": "aa", "A:": "aa", "A@": "aa", "V": "aa",
    "aI": "aa", "aU": "aa", "aI@": "aa", "aU@": "aa",
    # mid front and central vowels
    "E": "E", "e": "E", "e@": "E", "eI": "E", "@": "E", "@2": "E", "@5": "E", "3:": "E",
    # close front vowels
    "I": "I", "I2": "I", "I#": "I", "i": "I", "i:": "I", "I@": "I", "i@": "I", "i@3": "I",
    # back rounded vowels
    "0": "O", "0#": "O", "O": "O", "O:": "O", "O@": "O", "o@": "O", "o": "O", "OI": "O", "oU": "O",
    # close rounded vowels
    "U": "U", "u": "U", "u:": "U", "U@": "U",
}  # fmt: skip

#: Phonemes that glide through several visemes; the span is split evenly between them.
DIPHTHONG_VISEMES: dict[str, tuple[str, ...]] = {
    "aI": ("aa", "I"),
    "aU": ("aa", "U"),
    "eI": ("E", "I"),
    "OI": ("O", "I"),
    "oU": ("O", "U"),
    "I@": ("I", "E"),
    "i@": ("I", "E"),
    "i@3": ("I", "E"),
    "U@": ("U", "E"),
    "@L": ("E", "nn"),
    "aI@": ("aa", "I", "E"),
    "aU@": ("aa", "U", "E"),
}

#: ARPAbet phone (lower case, no stress digit) -> viseme: Festival's "radio" phone set and flite's US English one
#: (see the module docstring for how it matches the espeak-ng table). Diphthongs take the viseme of their onset.
ARPABET_TO_VISEME: dict[str, str] = {
    # pauses, the utterance edge and breath
    "pau": "sil", "h#": "sil", "brth": "sil",
    # bilabials (em: syllabic m)
    "p": "PP", "b": "PP", "m": "PP", "em": "PP",
    # labiodentals
    "f": "FF", "v": "FF",
    # dentals
    "th": "TH", "dh": "TH",
    # alveolar stops and the flap
    "t": "DD", "d": "DD", "dx": "DD",
    # velars
    "k": "kk", "g": "kk", "ng": "kk",
    # postalveolars
    "ch": "CH", "jh": "CH", "sh": "CH", "zh": "CH",
    # sibilants
    "s": "SS", "z": "SS",
    # nasals and laterals (el, en: syllabic; nx: nasal flap)
    "n": "nn", "l": "nn", "el": "nn", "en": "nn", "nx": "nn",
    # rhotics and the r-coloured vowels
    "r": "RR", "er": "RR", "axr": "RR",
    # glides and h
    "w": "U", "y": "I", "hh": "E", "hv": "E",
    # open vowels, and the diphthongs that start open
    "aa": "aa", "ae": "aa", "ah": "aa", "aw": "aa", "ay": "aa",
    # mid front and central vowels
    "eh": "E", "ey": "E", "ax": "E",
    # close front vowels
    "ih": "I", "iy": "I",
    # back rounded vowels
    "ao": "O", "ow": "O", "oy": "O",
    # close rounded vowels
    "uh": "U", "uw": "U",
}  # fmt: skip

#: Per-phoneme scale of the viseme's dominance, for sounds that barely shape the mouth themselves.
PHONEME_DOMINANCE_SCALE: dict[str, float] = {"h": 0.2, "?": 0.3, "@": 0.6, "@2": 0.6, "@5": 0.6, "i": 0.8, "a#": 0.8}

#: Fraction of a phoneme's span (around its midpoint) where it holds full dominance.
PLATEAU_FRACTION = 0.5
#: Bilabial closure: the lips are sealed for the whole of a p, b or m (the sound is the closure: a stop's silence,
#: a nasal's hum), at least the half frame around its centre so a short "b" is still seen closed at 25 fps. They
#: close over CLOSURE_RAMP_S before it and open over CLOSURE_RELEASE_S after it, into the next vowel.
CLOSURE_RAMP_S = 0.05
CLOSURE_RELEASE_S = 0.06
#: In silence the mouth relaxes to rest within this time of the nearest speech sound.
SILENCE_RELAX_S = 0.1

_STRESS_MARKS = "',%=\u02c8\u02cc"
_VARIANT_MARKS = ":#/-;!~^"
_VOWEL_CHARS = frozenset("aeiouyAEIOUVY03@&")
_NUM_SHAPES = len(ARKIT_BLENDSHAPES)


def _target_vector(weights: dict[str, float]) -> np.ndarray:
    vector = np.zeros(_NUM_SHAPES, np.float64)
    for name, value in weights.items():
        vector[BLENDSHAPE_INDEX[name]] = value
    return vector


_TARGETS = {name: _target_vector(weights) for name, weights in VISEME_TARGETS.items()}


def _strip_stress(phoneme: str) -> str:
    return "".join(ch for ch in phoneme.strip() if ch not in _STRESS_MARKS)


def is_pause(phoneme: str) -> bool:
    """True for espeak pauses ("_", "_:", "_!", ...) and empty mnemonics: both mean the mouth is at rest."""
    bare = _strip_stress(phoneme)
    return not bare or bare.startswith("_")


@lru_cache(maxsize=4096)
def _resolve(phoneme: str) -> tuple[str, ...]:
    """The viseme sequence of one mnemonic (one entry, or two or three for diphthongs); never fails."""
    if is_pause(phoneme):
        return ("sil",)
    bare = _strip_stress(phoneme)
    candidates = [bare, bare.replace(":", "")]
    candidates.append("".join(ch for ch in candidates[-1] if ch not in _VARIANT_MARKS))
    candidates.append("".join(ch for ch in candidates[-1] if not ch.isdigit()))
    for candidate in candidates:
        if candidate in DIPHTHONG_VISEMES:
            return DIPHTHONG_VISEMES[candidate]
        if candidate in PHONEME_TO_VISEME:
            return (PHONEME_TO_VISEME[candidate],)
    for length in range(len(bare) - 1, 0, -1):  # longest known prefix, e.g. "aI@3" -> "aI@"
        prefix = bare[:length]
        if prefix in DIPHTHONG_VISEMES:
            return DIPHTHONG_VISEMES[prefix]
        if prefix in PHONEME_TO_VISEME:
            return (PHONEME_TO_VISEME[prefix],)
    return ("E",) if bare[0] in _VOWEL_CHARS else ("DD",)


def viseme_for(phoneme: str) -> str:
    """The viseme of an espeak-ng mnemonic (the onset viseme for diphthongs); unknown ones fall back, see module."""
    return _resolve(phoneme)[0]


def viseme_for_arpabet(phone: str) -> str:
    """The viseme of an ARPAbet phone ("p", "AY1", "pau"; case and a CMUdict stress digit are ignored); ValueError
    for a symbol outside `ARPABET_TO_VISEME`."""
    if not isinstance(phone, str):
        raise ValueError(f"an ARPAbet phone must be a str, got {type(phone).__name__}")
    bare = phone.strip().lower().rstrip("012")
    if bare not in ARPABET_TO_VISEME:
        raise ValueError(f"{phone!r} is not an ARPAbet phone of the radio / cmu phone set")
    return ARPABET_TO_VISEME[bare]


def _dominance_scale(phoneme: str) -> float:
    return PHONEME_DOMINANCE_SCALE.get(_strip_stress(phoneme), 1.0)


def _segments(phonemes: Sequence[PhonemeTiming], end_s: float) -> list[tuple[float, float, str, float]]:
    """(start, end, viseme, strength) covering all time: diphthongs split, and silence filling every gap."""
    timed = []
    for item in phonemes:
        start, end = float(item.start_s), float(item.end_s)
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"phoneme {item.phoneme!r} has a non-finite span ({item.start_s!r}, {item.end_s!r})")
        timed.append((start, max(end, start + 1e-3), item.phoneme))
    timed.sort(key=lambda entry: entry[0])
    segments: list[tuple[float, float, str, float]] = []
    cursor = min(0.0, timed[0][0]) - 1.0 if timed else -1.0
    for start, end, phoneme in timed:
        if start > cursor + 1e-6:
            segments.append((cursor, start, "sil", 1.0))
        visemes = _resolve(phoneme)
        scale = _dominance_scale(phoneme)
        step = (end - start) / len(visemes)
        for k, viseme in enumerate(visemes):
            segments.append((start + k * step, start + (k + 1) * step, viseme, scale))
        cursor = max(cursor, end)
    segments.append((cursor, max(cursor, end_s) + 1.0, "sil", 1.0))
    return segments


def _dominance(times: np.ndarray, start: float, end: float, viseme: str, scale: float) -> np.ndarray:
    """Cohen-Massaro dominance: full strength on the core, Gaussian fall-off before (attack) and after (release)."""
    strength, attack, release = VISEME_DOMINANCE[viseme]
    if viseme == "sil":
        core_start, core_end = start, end  # rest holds through the whole pause
    else:
        mid, half = 0.5 * (start + end), 0.5 * PLATEAU_FRACTION * (end - start)
        core_start, core_end = mid - half, mid + half
    before = np.maximum(core_start - times, 0.0) / attack
    after = np.maximum(times - core_end, 0.0) / release
    return strength * scale * np.exp(-(before**2) - after**2)


def _raised_cosine(distance: np.ndarray, width: float) -> np.ndarray:
    """1 at distance <= 0, smoothly to 0 at distance >= width."""
    u = np.clip(distance / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * u))


def viseme_curves(phonemes: Sequence[PhonemeTiming], num_frames: int, fps: int = FPS) -> np.ndarray:
    """ARKit lip-sync curves (num_frames, 52) float32 in [0, 1], in ARKIT_BLENDSHAPES order, sampled at frame centres.

    Each phoneme's viseme target is weighted by its dominance and the weights are normalized per frame
    (Cohen-Massaro), so a sound leans toward its neighbours as real articulation does and the curves stay
    continuous. Two constraints then make what viewers check for unmistakable: bilabials (p b m) are driven to full
    closure for their whole span even between open vowels, released into the next sound, and the mouth relaxes to
    the closed rest pose within `SILENCE_RELAX_S` of the nearest speech sound in pauses and outside the phonemes.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    curves = np.zeros((num_frames, _NUM_SHAPES), np.float32)
    if num_frames == 0 or not phonemes:
        return curves
    times = (np.arange(num_frames) + 0.5) / fps
    segments = _segments(phonemes, num_frames / fps)
    starts = np.array([segment[0] for segment in segments])
    ends = np.array([segment[1] for segment in segments])
    targets = np.stack([_TARGETS[segment[2]] for segment in segments])
    reach = 6.0 * max(max(attack, release) for _, attack, release in VISEME_DOMINANCE.values())
    blended = np.zeros((num_frames, _NUM_SHAPES))
    block = 256  # frames per block: only segments near a block matter, which keeps long utterances cheap
    for first in range(0, num_frames, block):
        t = times[first : first + block]
        near = np.flatnonzero((ends >= t[0] - reach) & (starts <= t[-1] + reach))
        weights = np.stack([_dominance(t, *segments[j]) for j in near], axis=1)
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        blended[first : first + block] = weights @ targets[near]

    closure = np.zeros(num_frames)
    distance_to_speech = np.full(num_frames, np.inf)
    for start, end, viseme, _ in segments:
        if viseme == "sil":
            continue
        distance_to_speech = np.minimum(distance_to_speech, np.maximum(np.maximum(start - times, times - end), 0.0))
        if viseme == "PP":
            middle, half = 0.5 * (start + end), max(0.5 * (end - start), 0.5 / fps)
            closing = _raised_cosine(middle - half - times, CLOSURE_RAMP_S)  # 1 from the closure's start on
            opening = _raised_cosine(times - middle - half, CLOSURE_RELEASE_S)  # 1 until its end
            closure = np.maximum(closure, np.minimum(closing, opening))
    blended += closure[:, None] * (_TARGETS["PP"] - blended)
    blended *= _raised_cosine(distance_to_speech, SILENCE_RELAX_S)[:, None]
    np.clip(blended, 0.0, 1.0, out=curves)
    return curves
