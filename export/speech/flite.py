"""flite (CMU Festival-lite) as a speech source, with the segment timings flite itself computed.

flite's command line prints the utterance's Segment relation with each segment's end time when given `-psdur`
("pau:0.249 b:0.309 aa:0.415 ..."), the same times its waveform was generated from; the text goes in with `-t` as
one utterance and the wave out with `-o`. Phones are flite's US English phone set (ARPAbet, like Festival's
"radio"; written "flite-cmu"), mapped to visemes by `viseme_for_arpabet`.

Voices are the ones compiled into Debian's flite (`flite -lv`) less the reserved ones (kal, kal16, slt) and
awb_time (a limited-domain voice that can only say the time): awb (Scottish English male) and rms (US male), both
clustergen voices at 16 kHz. Only listed names are passed to `-voice`, never a path or URL (flite would download
a URL), and `-voice` is always given, because flite's default voice is the reserved kal. Install with
`apt-get install flite`.
"""

from __future__ import annotations

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
    require_program,
    run_program,
)
from eai_avatar.export.speech.wavfile import read_pcm16
from eai_avatar.runtime.audio import resample
from eai_avatar.runtime.motion.visemes import viseme_for_arpabet
from eai_avatar.vocabulary import SAMPLE_RATE

DEBIAN_PACKAGES = "flite"
#: Voices flite lists that cannot read arbitrary text.
LIMITED_DOMAIN_VOICES = frozenset({"awb_time"})


def parse_segment_durations(printed: str) -> list[tuple[str, float]]:
    """(phone, end time) pairs from flite's `-psdur` output; RuntimeError when there are none."""
    pairs = []
    for token in printed.split():
        name, colon, end = token.rpartition(":")
        if not colon or not name:
            continue
        try:
            pairs.append((name, float(end)))
        except ValueError:
            continue  # not a segment (flite prints nothing else with -psdur, but a warning must not break parsing)
    if not pairs:
        raise RuntimeError(f"flite printed no segment timings: {printed[:200]!r}")
    return pairs


class FliteSource(SpeechSource):
    """flite's built-in voices (reserved and limited-domain ones left out), with flite's segment end times."""

    family = "flite"
    phone_set = "flite-cmu"

    def __init__(self):
        self._program = require_program("flite", DEBIAN_PACKAGES, "flite")
        self._voices: list[str] | None = None

    def voices(self) -> list[str]:
        if self._voices is None:
            listing = run_program([self._program, "-lv"], "flite -lv")
            names = listing.split(":", 1)[1].split() if ":" in listing else []
            self._voices = sorted(
                name for name in names if not is_reserved_voice(name) and name not in LIMITED_DOMAIN_VOICES
            )
        return list(self._voices)

    def program_version(self) -> str:
        # flite --version prints its banner and exits with status 1
        printed = run_program([self._program, "--version"], "flite --version", ok_status=(0, 1))
        found = re.search(r"version:\s*(\S+(?:\s+\S+\s+\d{4})?)", printed)
        reported = found.group(1) if found else "flite (version not reported)"
        packages = debian_versions(["flite", "libflite1"])
        listed = ", ".join(f"{name} {number}" for name, number in sorted(packages.items()))
        return reported + (f" (Debian {listed})" if listed else "")

    def _speak(self, text: str, voice: str) -> tuple[np.ndarray, tuple[Phone, ...]]:
        with tempfile.TemporaryDirectory(prefix="flite-") as scratch:
            wave_path = Path(scratch) / "speech.wav"
            command = [self._program, "-voice", voice, "-psdur", "-t", text, "-o", str(wave_path)]
            printed = run_program(command, f"flite speaking with {voice}")
            if not wave_path.exists():
                raise RuntimeError(f"flite wrote no wave for {text!r} with {voice}")
            native, rate = read_pcm16(wave_path)
        samples = resample(native, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else native
        ends = parse_segment_durations(printed)
        return samples, contiguous_phones(ends, len(samples) / SAMPLE_RATE, "pau", viseme_for_arpabet)
