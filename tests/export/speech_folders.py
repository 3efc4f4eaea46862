"""Small speech folders for tests: espeak-ng lines through export/speech's writer, with silence around each."""

import re
from pathlib import Path

import numpy as np

from eai_avatar.export.speech.base import Phone, SpokenText
from eai_avatar.export.speech.folder import write_speech_folder
from eai_avatar.export.speech.sources import create_source
from eai_avatar.vocabulary import SAMPLE_RATE


def with_silence(spoken: SpokenText, seconds: float) -> SpokenText:
    """`spoken` with `seconds` of digital silence before and after it, its phones moved, pauses at both ends."""
    if seconds <= 0:
        return spoken
    edge = np.zeros(int(round(seconds * SAMPLE_RATE)), np.int16)
    samples = np.concatenate([edge, spoken.samples, edge])
    moved = [Phone(p.phone, p.start + seconds, p.end + seconds, p.viseme) for p in spoken.phones]
    end = len(samples) / SAMPLE_RATE
    phones = (Phone("_", 0.0, seconds, "sil"), *moved, Phone("_", moved[-1].end, end, "sil"))
    return SpokenText(spoken.text, spoken.voice, spoken.phone_set, samples, phones)


def espeak_speech_folder(out: Path, lines: list[tuple[str, str]], silence_s: float = 0.3) -> Path:
    """(text, espeak voice) lines as a speech folder at `out`."""
    source = create_source("espeak")
    spoken = [(f"{n:03d}-{re.sub(r'[^A-Za-z0-9]+', '_', voice)}", with_silence(source.speak(text, voice), silence_s))
              for n, (text, voice) in enumerate(lines)]  # fmt: skip
    write_speech_folder(out, spoken, {"espeak": "libespeak-ng (tests)"})
    return out
