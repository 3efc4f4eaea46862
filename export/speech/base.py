"""What every speech source gives: 16 kHz mono PCM16 and the synthesizer's own phone timings, behind one interface.

A source is one synthesizer family (espeak-ng, Festival, flite). Its voices are named "family:voice" outside this
module ("festival:kdlpc16k"); inside a source they are the bare voice name. Reserved voices (`RESERVED_VOICE_TOKENS`)
are refused before any program runs, whatever the family.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.motion.visemes import VISEMES
from eai_avatar.vocabulary import SAMPLE_RATE

#: Name parts of the CMU voices kept for independent evaluation by other people: "slt" (Festival's
#: cmu_us_slt_arctic_hts from festvox-us-slt-hts, flite's slt / cmu_us_slt) and "kal" (Festival's kal_diphone from
#: festvox-kallpc16k / -kallpc8k, flite's kal, kal16, cmu_us_kal, cmu_us_kal16). A voice whose name has one of these
#: as a part (split at anything but letters and digits) is refused, so a path or a variant of the name is too.
RESERVED_VOICE_TOKENS: frozenset[str] = frozenset({"slt", "kal", "kal16", "kallpc16k", "kallpc8k", "kallpc"})

#: Pause phones of the phone sets written here: espeak-ng's "_" and ARPAbet's "pau" (and its utterance edge "h#").
PAUSE_PHONES: frozenset[str] = frozenset({"_", "pau", "h#", "brth"})

#: A synthesizer's timings may end a little before or after its wave (Festival's diphone tail, flite's rounding to
#: a millisecond); a gap up to this is absorbed by the final pause, a larger one is an error: the timings would not
#: describe this audio.
MAX_END_MISMATCH_S = 0.25


class MissingProgramError(RuntimeError):
    """A synthesizer's program is not installed on this machine; the message names the Debian package to install."""

    def __init__(self, program: str, debian_packages: str, family: str):
        super().__init__(
            f"{family} is not installed: the program {program!r} was not found on PATH; "
            f"install it with `apt-get install {debian_packages}` (Debian / Ubuntu)"
        )
        self.program = program
        self.debian_packages = debian_packages


@dataclass(frozen=True)
class Phone:
    """One phone as the synthesizer timed it: its symbol in the source's phone set, its span in seconds from the
    start of the audio, and its Meta viseme."""

    phone: str
    start: float
    end: float
    viseme: str

    def __post_init__(self):
        if not (np.isfinite(self.start) and np.isfinite(self.end)) or self.end < self.start or self.start < 0:
            raise ValueError(f"phone {self.phone!r} has a bad span ({self.start!r}, {self.end!r})")
        if self.viseme not in VISEMES:
            raise ValueError(f"phone {self.phone!r} has viseme {self.viseme!r}, not one of {', '.join(VISEMES)}")

    @property
    def is_pause(self) -> bool:
        return self.phone in PAUSE_PHONES

    def to_json(self) -> dict:
        return {"phone": self.phone, "start": round(self.start, 5), "end": round(self.end, 5), "viseme": self.viseme}

    @classmethod
    def from_json(cls, data: dict) -> Phone:
        return cls(str(data["phone"]), float(data["start"]), float(data["end"]), str(data["viseme"]))


@dataclass(frozen=True)
class SpokenText:
    """One synthesized utterance: int16 samples at 16 kHz, mono, and phones covering [0, duration] in order."""

    text: str
    voice: str  # "family:voice"
    phone_set: str
    samples: np.ndarray
    phones: tuple[Phone, ...]

    def __post_init__(self):
        samples = np.asarray(self.samples)
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise ValueError(f"samples must be mono int16 PCM, got {samples.dtype} with shape {samples.shape}")

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def is_reserved_voice(voice: str) -> bool:
    """Whether `voice` (bare, "family:voice" or a path) names one of the reserved evaluation voices."""
    parts = re.split(r"[^a-z0-9]+", str(voice).lower())
    return any(part in RESERVED_VOICE_TOKENS for part in parts)


def refuse_reserved(voice: str) -> None:
    """ValueError when `voice` is reserved: nothing may synthesize with it here."""
    if is_reserved_voice(voice):
        raise ValueError(
            f"voice {voice!r} is reserved: the CMU slt and kal voices (Festival festvox-us-slt-hts / cmu_us_slt*, "
            f"festvox-kallpc16k / kal_diphone; flite slt, kal, kal16) are kept for independent evaluation by other "
            f"people, so this package never synthesizes with them"
        )


def require_program(program: str, debian_packages: str, family: str) -> str:
    """The path of `program` on PATH; MissingProgramError naming the Debian packages when it is not there."""
    path = shutil.which(program)
    if path is None:
        raise MissingProgramError(program, debian_packages, family)
    return path


def contiguous_phones(
    ends: Iterable[tuple[str, float]], duration_s: float, pause: str, viseme_of: Callable[[str], str]
) -> tuple[Phone, ...]:
    """Phones from (symbol, end time) pairs as a synthesizer lists them: each starts where the one before ended,
    the first at 0, and the last ends at `duration_s` (a trailing gap becomes, or joins, a final `pause`; a phone
    past the audio's end is cut there). RuntimeError when the timings and the audio disagree by more than
    MAX_END_MISMATCH_S."""
    pairs = [(str(symbol), float(end)) for symbol, end in ends]
    if not pairs:
        raise RuntimeError("the synthesizer gave no phone timings")
    last_end = max(end for _, end in pairs)
    if abs(last_end - duration_s) > MAX_END_MISMATCH_S:
        raise RuntimeError(
            f"the phone timings end at {last_end:.3f} s but the audio lasts {duration_s:.3f} s: they do not describe it"
        )
    phones: list[Phone] = []
    cursor = 0.0
    for symbol, end in pairs:
        end = min(max(end, cursor), duration_s)  # never backwards, never past the audio
        phones.append(Phone(symbol, cursor, end, viseme_of(symbol)))
        cursor = end
    if cursor < duration_s:
        if phones[-1].phone == pause:
            phones[-1] = Phone(pause, phones[-1].start, duration_s, phones[-1].viseme)
        else:
            phones.append(Phone(pause, cursor, duration_s, viseme_of(pause)))
    return tuple(phones)


class SpeechSource(ABC):
    """One synthesizer family: its voices, and text spoken by one of them with the synthesizer's phone timings."""

    #: The prefix of this family's voices ("espeak", "festival", "flite").
    family: str
    #: The phone set its phones are written in ("espeak", "festival-radio", "flite-cmu").
    phone_set: str

    @abstractmethod
    def voices(self) -> list[str]:
        """The voices this machine has for this family, reserved ones left out."""

    @abstractmethod
    def program_version(self) -> str:
        """The synthesizer's version as it reports it (for the folder's manifest)."""

    @abstractmethod
    def _speak(self, text: str, voice: str) -> tuple[np.ndarray, tuple[Phone, ...]]:
        """(int16 samples at 16 kHz, phones) for a checked text and voice."""

    def check_voice(self, voice: str) -> str:
        """`voice` if this family can speak with it; ValueError for a reserved or unknown one."""
        refuse_reserved(voice)
        if voice not in self.voices():
            raise ValueError(
                f"unknown {self.family} voice {voice!r}; this machine has {', '.join(self.voices()) or 'none'}"
            )
        return voice

    def speak(self, text: str, voice: str) -> SpokenText:
        """`text` said by `voice`: 16 kHz mono int16 samples and phones with their viseme, covering the audio."""
        refuse_reserved(voice)  # first, before anything runs a program
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text must be a non-empty str, got {text!r}")
        voice = self.check_voice(voice)
        samples, phones = self._speak(" ".join(text.split()), voice)
        return SpokenText(text, f"{self.family}:{voice}", self.phone_set, samples, phones)


#: Longest one synthesis may take; these synthesizers speak a sentence in well under a second.
PROGRAM_TIMEOUT_S = 120.0


def run_program(
    args: list[str],
    what: str,
    timeout_s: float = PROGRAM_TIMEOUT_S,
    ok_status: tuple[int, ...] = (0,),
    env: dict[str, str] | None = None,
) -> str:
    """Run `args` (in `env`, default ours) and return its stdout, its stderr appended when `ok_status` admits a
    failing status (`flite --version` prints to stderr and exits 1); RuntimeError when it fails or hangs."""
    try:
        finished = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{what} took longer than {timeout_s:.0f} s and was stopped") from exc
    if finished.returncode not in ok_status:
        detail = (finished.stderr or finished.stdout or "").strip()[-500:]
        raise RuntimeError(f"{what} failed with exit status {finished.returncode}: {detail or 'no message'}")
    return finished.stdout if ok_status == (0,) else finished.stdout + finished.stderr


def debian_versions(patterns: list[str]) -> dict[str, str]:
    """Installed Debian packages matching `patterns` ("festvox-*") -> version; empty where dpkg is absent."""
    if shutil.which("dpkg-query") is None:
        return {}
    finished = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Package} ${Version}\n", *patterns],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    versions = {}
    for line in finished.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "ii":  # installed, not merely known to dpkg
            versions[fields[1]] = fields[2]
    return versions
