"""The Festival Speech Synthesis System as a speech source, with the segment timings Festival itself computed.

Each utterance is one `festival --batch` run of a small Scheme script that selects the voice, synthesizes the text
as one utterance (`utt.synth` of a Text utterance), saves the wave, and writes the name and `end` feature of every
item of the utterance's Segment relation: the times the waveform was built to. Phones are in the voice's phone set,
Festival's "radio" ARPAbet for the US English voices (written "festival-radio"), mapped to visemes by
`viseme_for_arpabet`; a voice in another phone set is refused. Output at another rate is resampled to 16 kHz.

Voices are named by their Debian package without "festvox-" ("kdlpc16k" for festvox-kdlpc16k, whose Festival
name is ked_diphone) where that package is installed, else as Festival names them; either name is accepted.
Debian 12 has one US English voice that is not reserved: festvox-kdlpc16k (festvox-kdlpc8k is the same speaker at
8 kHz and cannot be installed beside it; festvox-rablpc16k and festvox-don are not in Debian 12). Install with
`apt-get install festival festvox-kdlpc16k`. Nothing here downloads anything.

Festival selects a default voice when it starts, and its list of defaults puts the reserved kal_diphone first. So
every run gets a HOME of its own whose .festivalrc (read before that choice) makes the default a function that
loads nothing: no voice is loaded but the one the script selects, and a reserved one never is.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from eai_avatar.export.speech.base import (
    Phone,
    SpeechSource,
    contiguous_phones,
    debian_versions,
    is_reserved_voice,
    refuse_reserved,
    require_program,
    run_program,
)
from eai_avatar.export.speech.wavfile import read_pcm16
from eai_avatar.runtime.audio import resample
from eai_avatar.runtime.motion.visemes import viseme_for_arpabet
from eai_avatar.vocabulary import SAMPLE_RATE

DEBIAN_PACKAGES = "festival festvox-kdlpc16k"
#: Short name (the Debian package less "festvox-") -> Festival's voice name. Two packages may give one Festival
#: voice (the same speaker at 16 and 8 kHz), so the installed package decides the name.
PACKAGE_VOICES: dict[str, str] = {"kdlpc16k": "ked_diphone", "kdlpc8k": "ked_diphone"}
#: Festival phone sets that the ARPAbet viseme table covers.
ARPABET_PHONE_SETS = frozenset({"radio"})
_VOICE_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # a Scheme symbol we can splice into `(voice_NAME)` safely

#: Read by Festival at start-up, before it loads its default voice: the default becomes "load nothing".
_FESTIVALRC = "(define (eai_avatar_no_default_voice) nil)\n(set! voice_default 'eai_avatar_no_default_voice)\n"

_LIST_SCRIPT = '(mapcar (lambda (v) (format t "voice %s\\n" v)) (voice.list))\n'

_SPEAK_SCRIPT = """(voice_{voice})
(set! utt (utt.synth (Utterance Text "{text}")))
(utt.save.wave utt "{wave}" 'riff)
(set! out (fopen "{segments}" "w"))
(format out "phone_set %s\\n" (car (cdr (car (PhoneSet.description '(name))))))
(mapcar (lambda (seg) (format out "%s %f\\n" (item.name seg) (item.feat seg 'end))) (utt.relation.items utt 'Segment))
(fclose out)
"""


def _scheme_string(text: str) -> str:
    """`text` inside a Scheme string literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


class FestivalSource(SpeechSource):
    """Festival's installed voices (reserved ones left out), each utterance with Festival's segment end times."""

    family = "festival"
    phone_set = "festival-radio"

    def __init__(self):
        self._program = require_program("festival", DEBIAN_PACKAGES, "Festival")
        self._festival_names: dict[str, str] | None = None  # our name -> Festival's

    def _names(self) -> dict[str, str]:
        if self._festival_names is None:
            with tempfile.TemporaryDirectory(prefix="festival-") as scratch:
                listing = self._run_script(Path(scratch), _LIST_SCRIPT, "festival listing its voices")
            found = {line.split()[1] for line in listing.splitlines() if line.startswith("voice ") and line.split()[1:]}
            packages = debian_versions(["festvox-*"])
            names = {}
            for festival_name in sorted(found):
                if is_reserved_voice(festival_name) or not _VOICE_NAME.match(festival_name):
                    continue
                short = [s for s, f in PACKAGE_VOICES.items() if f == festival_name and f"festvox-{s}" in packages]
                names[short[0] if short else festival_name] = festival_name
            self._festival_names = names
        return self._festival_names

    def voices(self) -> list[str]:
        return sorted(self._names())

    def check_voice(self, voice: str) -> str:
        refuse_reserved(voice)
        names = self._names()
        if voice in names:
            return voice
        ours = [name for name, festival_name in names.items() if voice == festival_name]
        if not ours:
            raise ValueError(
                f"unknown Festival voice {voice!r}; this machine has {', '.join(names) or 'none'} "
                f"(more with apt-get install festvox-...)"
            )
        return ours[0]

    def _run_script(self, scratch: Path, script: str, what: str) -> str:
        """Run a Scheme `script` in `festival --batch` with `scratch` as HOME (see the module docstring); its stdout."""
        (scratch / ".festivalrc").write_text(_FESTIVALRC, encoding="utf-8")
        path = scratch / "script.scm"
        path.write_text(script, encoding="utf-8")
        return run_program([self._program, "--batch", str(path)], what, env={**os.environ, "HOME": str(scratch)})

    def program_version(self) -> str:
        reported = run_program([self._program, "--version"], "festival --version").strip()
        version = reported.rsplit(":", 2)[-2].strip() if reported.count(":") >= 2 else reported
        packages = debian_versions(["festival", "festvox-*", "festlex-*"])
        listed = ", ".join(f"{name} {number}" for name, number in sorted(packages.items()))
        return f"festival {version}" + (f" (Debian {listed})" if listed else "")

    def _speak(self, text: str, voice: str) -> tuple[np.ndarray, tuple[Phone, ...]]:
        with tempfile.TemporaryDirectory(prefix="festival-") as scratch:
            wave_path, segments_path = Path(scratch) / "speech.wav", Path(scratch) / "segments.txt"
            paths = {"wave": wave_path.as_posix(), "segments": segments_path.as_posix()}
            script = _SPEAK_SCRIPT.format(voice=self._names()[voice], text=_scheme_string(text), **paths)
            self._run_script(Path(scratch), script, f"festival speaking with {voice}")
            if not segments_path.exists() or not wave_path.exists():
                raise RuntimeError(f"festival wrote no wave or segment list for {text!r} with {voice}")
            lines = segments_path.read_text(encoding="utf-8").splitlines()
            native, rate = read_pcm16(wave_path)
        if not lines or not lines[0].startswith("phone_set "):
            raise RuntimeError(f"festival's segment list for {voice} is malformed: {lines[:2]!r}")
        phone_set = lines[0].split()[1]
        if phone_set not in ARPABET_PHONE_SETS:
            raise ValueError(
                f"Festival voice {voice!r} uses the phone set {phone_set!r}; only {', '.join(ARPABET_PHONE_SETS)} "
                f"(US English) has a viseme table"
            )
        ends = []
        for line in lines[1:]:
            name, end = line.split()
            ends.append((name, float(end)))
        samples = resample(native, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else native
        return samples, contiguous_phones(ends, len(samples) / SAMPLE_RATE, "pau", viseme_for_arpabet)
