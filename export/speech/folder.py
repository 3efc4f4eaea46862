"""The speech folder: synthesized utterances with the synthesizer's own phone timings, to train and evaluate on.

Layout (`write_speech_folder` writes it, `read_speech_folder` reads it)::

    DIR/
      manifest.json     written last: a folder without it is unfinished
      <id>.wav          16 kHz mono PCM16
      <id>.json         the utterance's text, voice and phones

`<id>` is "<family>-<voice>-<NNNN>" with anything but letters, digits, "." and "_" in the voice made "-" and NNNN
the sentence's index in the list spoken ("festival-kdlpc16k-0007"). `<id>.json`::

    {"text": "Bob bought a map.",
     "voice": "festival:kdlpc16k",          family:voice
     "phone_set": "festival-radio",            "espeak" | "festival-radio" | "flite-cmu"
     "duration": 1.72,                         seconds of audio in <id>.wav
     "phones": [{"phone": "pau", "start": 0.0, "end": 0.22, "viseme": "sil"},
                {"phone": "b", "start": 0.22, "end": 0.3127, "viseme": "PP"}, ...]}

Phones are in the order spoken, contiguous (each starts where the one before ended), the first starting at 0 and
the last ending at `duration`; times are seconds from the start of the wav, rounded to 10 microseconds, as the
synthesizer computed them (a few milliseconds of difference between its timings and its wave, at most 0.25 s, are
absorbed by the final pause). Pauses are phones too: "_" (espeak) or "pau" (ARPAbet), viseme "sil". A phone may be
empty (start == end) where the synthesizer gave it no time. "viseme" is one of the 15 Meta visemes
(`eai_avatar.runtime.motion.visemes.VISEMES`): `viseme_for` for espeak-ng mnemonics (a diphthong's onset),
`viseme_for_arpabet` for the ARPAbet phone sets. `manifest.json`::

    {"format": "eai-avatar-speech", "format_version": 1, "sample_rate": 16000, "created_by": "eai-avatar 0.1.0",
     "programs": {"festival": "festival 2.5.0 (Debian festival 1:2.5.0-9, festvox-kdlpc16k 1.4.0-6.1, ...)", ...},
     "voices": {"festival:kdlpc16k": {"phone_set": "festival-radio", "utterances": 60, "seconds": 151.2}, ...},
     "utterances": [{"id": "festival-kdlpc16k-0000", "voice": "festival:kdlpc16k", "text": "...",
                     "duration": 2.41, "phones": 31}, ...]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eai_avatar.export.speech.base import Phone, SpokenText
from eai_avatar.export.speech.wavfile import read_pcm16, write_pcm16
from eai_avatar.version import __version__
from eai_avatar.vocabulary import SAMPLE_RATE

FORMAT = "eai-avatar-speech"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Phones may meet with this much slack (the rounding of the written times).
_CONTIGUITY_S = 2e-5


def utterance_id(voice: str, index: int) -> str:
    """The file stem of sentence `index` said by `voice` ("family:voice"): "festival-kdlpc16k-0007"."""
    family, _, name = voice.partition(":")
    return f"{family}-{re.sub(r'[^A-Za-z0-9._]+', '-', name).strip('-')}-{index:04d}"


def check_phones(phones: tuple[Phone, ...], duration_s: float, where: str) -> None:
    """ValueError unless `phones` are contiguous from 0 to `duration_s`."""
    if not phones:
        raise ValueError(f"{where}: no phones")
    cursor = 0.0
    for phone in phones:
        if abs(phone.start - cursor) > _CONTIGUITY_S:
            raise ValueError(f"{where}: phone {phone.phone!r} starts at {phone.start} s, not at {cursor} s")
        cursor = phone.end
    if abs(cursor - duration_s) > _CONTIGUITY_S:
        raise ValueError(f"{where}: the phones end at {cursor} s but the audio lasts {duration_s} s")


def _write_json(path: Path, data: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)  # a reader never sees half a file


def write_utterance(folder: Path, uid: str, spoken: SpokenText) -> dict:
    """`<uid>.wav` and `<uid>.json` in `folder`; returns the utterance's manifest entry."""
    if not _ID.match(uid):
        raise ValueError(f"utterance id {uid!r} must be letters, digits, '.', '_' or '-', from a letter or digit")
    check_phones(spoken.phones, spoken.duration_s, uid)
    write_pcm16(folder / f"{uid}.wav", spoken.samples, SAMPLE_RATE)
    duration = round(spoken.duration_s, 5)
    _write_json(
        folder / f"{uid}.json",
        {"text": spoken.text, "voice": spoken.voice, "phone_set": spoken.phone_set, "duration": duration,
         "phones": [phone.to_json() for phone in spoken.phones]},
    )  # fmt: skip
    return {"id": uid, "voice": spoken.voice, "text": spoken.text, "duration": duration, "phones": len(spoken.phones)}


def write_speech_folder(folder: Path, utterances: Iterable[tuple[str, SpokenText]], programs: dict[str, str]) -> dict:
    """Write every (id, utterance) to `folder` (made if missing), then `manifest.json`; returns the manifest.

    `programs` is family -> the program version that made its utterances. ValueError when `folder` already holds
    a speech folder (nothing is overwritten) or two utterances share an id.
    """
    folder = Path(folder)
    if (folder / MANIFEST).exists():
        raise ValueError(f"{folder} already holds a speech folder ({MANIFEST}); write to a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    voices: dict[str, dict] = {}
    for uid, spoken in utterances:
        if any(entry["id"] == uid for entry in entries):
            raise ValueError(f"two utterances have the id {uid!r}")
        entry = write_utterance(folder, uid, spoken)
        entries.append(entry)
        summary = voices.setdefault(spoken.voice, {"phone_set": spoken.phone_set, "utterances": 0, "seconds": 0.0})
        summary["utterances"] += 1
        summary["seconds"] = round(summary["seconds"] + entry["duration"], 3)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "sample_rate": SAMPLE_RATE,
                "created_by": f"eai-avatar {__version__}", "programs": dict(programs), "voices": voices,
                "utterances": entries}  # fmt: skip
    _write_json(folder / MANIFEST, manifest)
    return manifest


def read_utterance(folder: Path, uid: str) -> SpokenText:
    """One utterance of a speech folder; ValueError when its files break the format."""
    folder = Path(folder)
    where = str(folder / uid)
    data = json.loads((folder / f"{uid}.json").read_text(encoding="utf-8"))
    samples, rate = read_pcm16(folder / f"{uid}.wav")
    if rate != SAMPLE_RATE:
        raise ValueError(f"{where}.wav is at {rate} Hz, not {SAMPLE_RATE}")
    try:
        phones = tuple(Phone.from_json(item) for item in data["phones"])
        spoken = SpokenText(str(data["text"]), str(data["voice"]), str(data["phone_set"]), samples, phones)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{where}.json lacks a field of the format: {exc}") from exc
    check_phones(phones, spoken.duration_s, where)
    return spoken


@dataclass(frozen=True)
class SpeechFolder:
    """A speech folder read back: its manifest and each utterance by id."""

    manifest: dict
    utterances: dict[str, SpokenText]


def read_speech_folder(folder: Path) -> SpeechFolder:
    """Every utterance of the folder's manifest; ValueError when the folder is not a finished speech folder."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        raise ValueError(f"{folder} is not a speech folder: it has no {MANIFEST} (unfinished, or another format)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} is not format {FORMAT} version {FORMAT_VERSION}")
    utterances = {entry["id"]: read_utterance(folder, entry["id"]) for entry in manifest["utterances"]}
    return SpeechFolder(manifest, utterances)
