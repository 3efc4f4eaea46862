"""Scoring a speech recognizer: word error rate on held-out lines spoken by voices it was not tuned on.

The voices are synthetic, so the set is fixed and needs no recordings: several espeak-ng speakers, hibari's
bundled "heart" voice when the package is installed, and the project's Piper voice once that backend exists. The
CMU voices "slt" and "kal" (Festival, flite) are refused everywhere: they are kept for independent evaluation.

WER is the word-level Levenshtein distance over the reference's word count, after both texts are normalized the
same way: lower case, no punctuation, apostrophes dropped ("let's" = "lets"), digits spelled out ("10" = "ten").
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from eai_avatar.import_utils import is_available
from eai_avatar.runtime.asr.base import SpeechRecognizer
from eai_avatar.vocabulary import SAMPLE_RATE

#: espeak-ng speakers of different accents, sexes and synthesizers (formant and Klatt).
ESPEAK_VOICES: tuple[str, ...] = ("en-us", "en-gb-x-rp+m5", "en-us+f3", "en+klatt4")
_RESERVED = re.compile(r"(?:^|[^a-z])(?:slt|kal\d*)(?:[^a-z]|$)")

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_NUMBER = re.compile(r"\d+:\d\d|\d[\d,]*(?:\.\d+)?")


def number_words(n: int) -> str:
    """A non-negative integer in words, without "and": 1205 -> "one thousand two hundred five"."""
    if n < 0:
        raise ValueError(f"number_words takes a non-negative integer, got {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    scale, name = next((scale, name) for scale, name in _SCALES if n >= scale)
    high, rest = divmod(n, scale)
    return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")


def _spell_number(match: re.Match) -> str:
    token = match.group()
    if ":" in token:  # a time of day: 7:30 -> seven thirty, 7:00 -> seven
        hours, minutes = token.split(":")
        return f" {number_words(int(hours))}" + (f" {number_words(int(minutes))}" if int(minutes) else "") + " "
    whole, _, decimals = token.replace(",", "").partition(".")
    spoken = number_words(int(whole)) if whole else ""
    if decimals:
        spoken += " point " + " ".join(_ONES[int(d)] for d in decimals)
    return f" {spoken} "


def normalize_words(text: str) -> list[str]:
    """`text` as the words WER compares: lower case, digits spelled out, apostrophes and punctuation gone."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("%", " percent ").replace("&", " and ")
    text = _NUMBER.sub(_spell_number, text).replace("'", "")
    return re.sub(r"[^a-z0-9]+", " ", text).split()


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Substitutions + deletions + insertions that turn `hypothesis` into `reference` (Levenshtein on words)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


def word_error_rate(references: Iterable[str], hypotheses: Iterable[str]) -> float:
    """Total word errors over total reference words (texts normalized first); 0 for no reference words."""
    errors = words = 0
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref = normalize_words(reference)
        errors += word_errors(ref, normalize_words(hypothesis))
        words += len(ref)
    return errors / words if words else 0.0


def check_voice(spec: str) -> tuple[str, str]:
    """`spec` ("backend:voice") split in two; ValueError for a malformed or reserved one."""
    backend, sep, voice = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep or not backend or not voice:
        raise ValueError(f"a voice is 'backend:voice' (e.g. espeak:en-us, hibari:heart), got {spec!r}")
    if _RESERVED.search(voice.lower()):
        raise ValueError(f"voice {spec!r}: the CMU voices slt and kal are reserved for independent evaluation")
    return backend, voice


def default_voices() -> list[str]:
    """The espeak-ng speakers, hibari's heart if hibari is installed, the project's Piper joe if it exists."""
    voices = [f"espeak:{voice}" for voice in ESPEAK_VOICES] if is_available("espeakng_loader") else []
    if is_available("hibari"):
        voices.append("hibari:heart")
    if importlib.util.find_spec("eai_avatar.runtime.tts.piper") is not None:
        voices.append("piper:joe")
    return voices


def _to_int16(audio: np.ndarray, rate: int) -> np.ndarray:
    from eai_avatar.runtime.audio import resample

    audio = resample(np.asarray(audio, np.float32), rate, SAMPLE_RATE) if rate != SAMPLE_RATE else audio
    return np.clip(np.rint(np.asarray(audio, np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def _hibari_voice(voice: str) -> Callable[[str], np.ndarray]:
    """hibari's model for `voice`, only if it ships in the package (nothing is downloaded)."""
    if not is_available("hibari"):
        raise ImportError("the hibari voices need the package hibari-tts: pip install 'eai-avatar[voices]'")
    import hibari
    from hibari.voices import VOICES, voice_path

    if not VOICES.get(voice, {}).get("bundled"):
        bundled = [name for name, entry in VOICES.items() if entry.get("bundled")]
        raise ValueError(f"hibari voice {voice!r} is not in the package (it would be downloaded); use {bundled}")
    tts = hibari.Hibari(voice=voice, model=voice_path(voice, download_missing=False), threads=1)
    return lambda text: _to_int16(tts(text, seed=0), tts.sample_rate)


def _project_voice(backend: str, voice: str) -> Callable[[str], np.ndarray]:
    """A voice of the project's own TTS backend `eai_avatar.runtime.tts.<backend>`."""
    from eai_avatar.runtime.tts.base import TTSBackend

    if not re.fullmatch(r"[a-z_]+", backend) or importlib.util.find_spec(f"eai_avatar.runtime.tts.{backend}") is None:
        raise ValueError(f"unknown TTS backend {backend!r} for voice {backend}:{voice}")
    module = importlib.import_module(f"eai_avatar.runtime.tts.{backend}")
    classes = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, TTSBackend) and getattr(c, "name", None) == backend
    ]
    if not classes:
        raise ValueError(f"eai_avatar.runtime.tts.{backend} has no TTS backend named {backend!r}")
    tts = classes[0]()
    if not tts.accepts(voice):
        matching = [name for name in tts.voices() if voice.lower() in name.lower()]
        if not matching:
            raise ValueError(f"the {backend} TTS backend has no voice {voice!r}; it has {', '.join(tts.voices())}")
        voice = matching[0]
    return lambda text: tts.synthesize(text, voice).samples


def make_voice(spec: str) -> Callable[[str], np.ndarray]:
    """text -> int16 16 kHz speech, for a voice named "backend:voice" (espeak:en-us, hibari:heart, piper:joe)."""
    backend, voice = check_voice(spec)
    return _hibari_voice(voice) if backend == "hibari" else _project_voice(backend, voice)


@dataclass(frozen=True)
class Utterance:
    voice: str
    reference: str
    hypothesis: str
    words: int
    errors: int
    audio_s: float
    compute_s: float


def transcribe_timed(recognizer: SpeechRecognizer, samples: np.ndarray) -> tuple[str, float]:
    """The transcript's text and the seconds it took."""
    started = time.perf_counter()
    text = recognizer.transcribe(samples).text
    return text, time.perf_counter() - started


def _summary(utterances: list[Utterance]) -> dict:
    words = sum(u.words for u in utterances)
    errors = sum(u.errors for u in utterances)
    return {
        "utterances": len(utterances),
        "words": words,
        "errors": errors,
        "wer": round(errors / words, 4) if words else 0.0,
        "real_time_factor_median": round(float(np.median([u.compute_s / u.audio_s for u in utterances])), 4),
    }


def evaluate(recognizer: SpeechRecognizer, sentences: Sequence[str], voices: Sequence[str]) -> dict:
    """Every sentence in every voice through `recognizer`: WER per voice and overall, and every utterance."""
    if not sentences:
        raise ValueError("no sentences to evaluate")
    if not voices:
        raise ValueError("no voices to evaluate with (espeak-ng, hibari or Piper must be installed)")
    utterances: list[Utterance] = []
    per_voice = {}
    for spec in voices:
        speak = make_voice(spec)
        mine = []
        for sentence in sentences:
            samples = speak(sentence)
            hypothesis, seconds = transcribe_timed(recognizer, samples)
            reference = normalize_words(sentence)
            errors = word_errors(reference, normalize_words(hypothesis))
            mine.append(
                Utterance(spec, sentence, hypothesis, len(reference), errors, len(samples) / SAMPLE_RATE, seconds)
            )
        per_voice[spec] = _summary(mine)
        utterances += mine
    return {
        "recognizer": repr(recognizer),
        "sentences": len(sentences),
        "voices": per_voice,
        "overall": _summary(utterances),
        "utterances": [vars(u) | {"compute_s": round(u.compute_s, 4)} for u in utterances],
    }


def to_markdown(report: dict, mistakes: int = 10) -> str:
    """The report as a Markdown table per voice and overall, then up to `mistakes` lines it got wrong."""
    lines = [
        f"Word error rate of {report['recognizer']} on {report['sentences']} held-out lines:",
        "",
        "| voice | utterances | words | errors | WER | real-time factor (median) |",
        "|---|---|---|---|---|---|",
    ]
    rows = [*report["voices"].items(), ("overall", report["overall"])]
    for name, s in rows:
        lines.append(
            f"| {name} | {s['utterances']} | {s['words']} | {s['errors']} | {100 * s['wer']:.1f} % "
            f"| {s['real_time_factor_median']:.3f} |"
        )
    wrong = [u for u in report["utterances"] if u["errors"]]
    if wrong and mistakes:
        lines += ["", f"Lines with errors ({len(wrong)}; the first {min(mistakes, len(wrong))}):", ""]
        lines += [f"- {u['voice']}: {u['reference']!r} -> {u['hypothesis']!r}" for u in wrong[:mistakes]]
    return "\n".join(lines) + "\n"
