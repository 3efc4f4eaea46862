"""espeak-ng as a TTS backend: small, offline, CPU-only, with exact phoneme and word timings from its events.

Licence: espeak-ng is GPL-3.0, this project is Apache-2.0. The library is therefore an optional backend: it is
never imported when `eai_avatar` (or this module) is imported, only loaded through ctypes when an `EspeakBackend`
is constructed, from the separately installed `espeakng-loader` wheel (`pip install espeakng-loader`, or the
project's `tts` extra), which ships libespeak-ng 1.52 and its espeak-ng-data. Nothing of espeak-ng is vendored here.

espeak-ng keeps one global synthesizer per process (voice, parameters, callback) and is not thread-safe, so the
library is initialized once per process and every synthesis holds the module lock `_LOCK` from setting the voice
to the last callback.
"""

from __future__ import annotations

import bisect
import ctypes
import logging
import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from eai_avatar.runtime.audio import resample
from eai_avatar.runtime.tts.base import PhonemeTiming, SpeechAudio, TTSBackend, WordTiming, check_text
from eai_avatar.vocabulary import MAX_TEXT_CHARS, SAMPLE_RATE  # noqa: F401 (MAX_TEXT_CHARS: imported from here)

logger = logging.getLogger(__name__)

#: Longest text one call accepts, in characters: a turn's utterance, not a document. Longer text should be split
#: by the caller so audio can start streaming before the whole of it is synthesized.

#: Distinct-sounding English speakers, checked to load and speak with libespeak-ng 1.52 (espeakng-loader 0.2.4):
#: accents (US, British, RP, Scottish, Caribbean, New York, Lancaster, West Midlands) crossed with male, female
#: and Klatt variants (median F0 from about 75 Hz for "david" to about 245 Hz for "Annie"), so two avatars in
#: one conversation need never share a voice. "en" alone is espeak's British English.
ENGLISH_VOICES: tuple[str, ...] = (
    "en-us",
    "en-us+f3",
    "en-gb-x-rp+m5",
    "en+klatt4",
    "en-us+m3",
    "en+f4",
    "en-gb-scotland",
    "en-029",
    "en-us+Annie",
    "en-us+david",
    "en-us-nyc+ed",
    "en-gb-x-rp+linda",
    "en-gb-x-gbclan+f2",
    "en-gb-x-gbcwmd+m7",
)

#: Words per minute and base pitch (0-100) espeak-ng uses when not told otherwise (speak_lib.h).
DEFAULT_RATE = 175
DEFAULT_PITCH = 50
RATE_RANGE = (80, 450)
PITCH_RANGE = (0, 100)

# speak_lib.h (espeak-ng 1.52, API revision 12).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
#: Without it espeak_Initialize calls exit(1) when its data is missing, which would take the whole server down.
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0
_PHONEMES_IPA = 0x02
#: Voice changes without a synthesis after which phonemizing drains espeak's event queue (see _Engine._drain).
_MAX_QUEUED_VOICE_EVENTS = 16

#: Stress and syllable marks espeak puts in front of a phoneme mnemonic; they are prosody, not the phoneme.
_STRESS_MARKS = "',%="
_PAUSE = "_"

_LOCK = threading.Lock()
_ENGINE: _Engine | None = None


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT: 40 bytes on 64-bit platforms (8 ints, a pointer, the 8-byte id union)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based character (not byte) index into the text
        ("length", ctypes.c_int),  # word length in characters, for word events
        ("audio_position", ctypes.c_int),  # milliseconds into the synthesized audio
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


class _Voice(ctypes.Structure):
    """espeak_VOICE, as espeak_ListVoices returns it; `languages` is a packed list, so it stays a raw pointer."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class IpaClause:
    """One clause of text as espeak-ng speaks it: IPA phonemes (stress marks kept, words separated by spaces) and
    the punctuation that ended it (".", ",", "?", "!", ":", ";"; "" for none)."""

    phonemes: str
    punctuation: str


#: A clause's closing punctuation (a run of marks, then closing quotes or brackets), before whatever espeak read ahead
#: of the next clause (nothing, or whitespace and part of a word).
_CLAUSE_END = re.compile(r"([.,!?;:…]+)[\"'”’)\]]*(?:\s+\S*)?$")
_CLAUSE_MARKS = {".": ".", "…": ".", ",": ",", "?": "?", "!": "!", ":": ":", ";": ";"}


@dataclass(frozen=True)
class _RawEvent:
    """The fields of one espeak event that outlive the callback (its memory belongs to espeak)."""

    type: int
    text_position: int
    length: int
    audio_ms: int
    phoneme: str


class _Engine:
    """The process's one initialized libespeak-ng: the handle, its output rate, its catalogue, the live callback.

    Only ever used under `_LOCK`.
    """

    def __init__(self, lib: ctypes.CDLL, data_path: str):
        self._lib = lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p

        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode("utf-8"), options)
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed (returned {rate}) with data path {data_path!r}")
        self.sample_rate = rate
        # Kept on the instance: ctypes frees the trampoline when the Python object dies, and espeak would then
        # call into freed memory.
        self._callback = _SynthCallback(self._on_synth)
        lib.espeak_SetSynthCallback(self._callback)
        self._chunks: list[np.ndarray] = []
        self._events: list[_RawEvent] = []
        self._error: BaseException | None = None
        self.languages = self._list_languages(data_path)
        self._drain()
        # The voice last set and how many voice changes have queued an event since the last synthesis (see _drain).
        self._voice, self._queued_voice_events = "", 0
        variants_dir = os.path.join(data_path, "voices", "!v")
        self.variants = {name.lower(): name for name in os.listdir(variants_dir)} if os.path.isdir(variants_dir) else {}
        logger.info("espeak-ng loaded: %d Hz, %d languages, %d variants", rate, len(self.languages), len(self.variants))

    def _list_languages(self, data_path: str) -> frozenset[str]:
        """Every language code that espeak_SetVoiceByName resolves to a voice whose dictionary is installed.

        Probed once at start-up (a few tens of ms): some listed codes do not resolve by name ("en-gb", "fr-fr"),
        and a few voices of espeakng-loader's data lack their dictionary and would speak nothing useful.
        """
        candidates: dict[str, str] = {}  # language code -> dictionary it needs
        table = self._lib.espeak_ListVoices(None)
        i = 0
        while table and table[i]:
            entry = table[i].contents
            codes = []
            pointer = entry.languages
            # Packed as (priority byte, NUL-terminated name) pairs, ended by a zero priority byte.
            while pointer and ctypes.string_at(pointer, 1)[0] != 0:
                name = ctypes.string_at(pointer + 1)
                codes.append(name.decode("utf-8", errors="replace").lower())
                pointer += 2 + len(name)
            identifier = (entry.identifier or b"").decode("utf-8", errors="replace")
            dictionary = _voice_dictionary(os.path.join(data_path, "lang", identifier), codes)
            for code in codes:
                candidates.setdefault(code, dictionary)
            i += 1
        usable = {
            code
            for code, dictionary in candidates.items()
            if os.path.exists(os.path.join(data_path, f"{dictionary}_dict"))
            and self._lib.espeak_SetVoiceByName(code.encode("utf-8")) == _EE_OK
        }
        return frozenset(usable)

    def _drain(self) -> None:
        """Speak a blank once and discard it.

        Every espeak_SetVoiceByName queues a sample-rate event; after the start-up probe there are over a hundred,
        and they would overflow the next synthesis's first event buffer and drop its first word and phonemes.
        """
        self._lib.espeak_Synth(b" ", 2, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self._chunks, self._events, self._error = [], [], None

    def _on_synth(self, wav, n_samples: int, events) -> int:
        """espeak's SynthCallback: copy the audio and events out of espeak's buffers; 1 aborts synthesis."""
        try:
            if wav and n_samples > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).astype(np.int16, copy=True))
            i = 0
            while events and events[i].type != _EVENT_LIST_TERMINATED:
                event = events[i]
                phoneme = ""
                if event.type == _EVENT_PHONEME:
                    phoneme = bytes(event.id.string).split(b"\0", 1)[0].decode("utf-8", errors="replace")
                self._events.append(
                    _RawEvent(event.type, event.text_position, event.length, event.audio_position, phoneme)
                )
                i += 1
        except Exception as exc:  # an exception must not unwind through C; hand it back to synthesize()
            self._error = exc
            return 1
        return 0

    def resolve_voice(self, voice: str) -> str | None:
        """The canonical "language[+variant]" for `voice`, or None when espeak-ng has no such language/variant.

        Checked here because espeak_SetVoiceByName silently ignores an unknown "+variant".
        """
        base, plus, variant = voice.strip().partition("+")
        base = base.lower()
        if base not in self.languages:
            return None
        if not plus:
            return base
        actual = self.variants.get(variant.lower())
        return f"{base}+{actual}" if actual else None

    def synthesize(self, text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, list[_RawEvent]]:
        """Run one synthesis; returns (PCM16 at self.sample_rate, events). Caller holds `_LOCK`."""
        if self._lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
            raise ValueError(f"espeak-ng could not load voice {voice!r}")
        self._voice, self._queued_voice_events = voice, 0  # this synthesis takes the queued events with it
        self._lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
        self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
        self._chunks, self._events, self._error = [], [], None
        # NUL would end the C string early; a same-length replacement keeps espeak's character positions valid.
        data = text.replace("\0", " ").encode("utf-8", errors="replace")
        status = self._lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        chunks, events, error = self._chunks, self._events, self._error
        self._chunks, self._events, self._error = [], [], None
        if error is not None:
            raise RuntimeError("espeak-ng synthesis callback failed") from error
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return audio, events

    def phonemize_ipa(self, text: str, voice: str) -> list[IpaClause]:
        """`text` as IPA, clause by clause, in `voice`'s language (a resolved voice). Caller holds `_LOCK`.

        espeak_TextToPhonemes translates one clause per call and moves the text pointer past it, but does not say
        which punctuation ended the clause (libespeak-ng 1.52 has no espeak_TextToPhonemesWithTerminator), so it
        is read from the text consumed: its last mark, before the whitespace and look-ahead (espeak may read a
        character of the next clause). The voice is set only when it changes: every change queues an event for the
        next synthesis, and hundreds of them would cost that synthesis its first word's timings.
        """
        if voice != self._voice:  # each change queues an event that only a synthesis takes away
            if self._lib.espeak_SetVoiceByName(voice.encode("utf-8")) != _EE_OK:
                raise ValueError(f"espeak-ng could not load voice {voice!r}")
            self._voice, self._queued_voice_events = voice, self._queued_voice_events + 1
            if self._queued_voice_events > _MAX_QUEUED_VOICE_EVENTS:
                self._drain()
                self._queued_voice_events = 0
        data = text.replace("\0", " ").encode("utf-8", errors="replace")
        buffer = ctypes.create_string_buffer(data)  # NUL-terminated, alive for the whole loop
        base = ctypes.addressof(buffer)
        pointer = ctypes.c_void_p(base)
        clauses = []
        while pointer.value:  # espeak sets it to NULL after the last clause
            start = pointer.value - base
            phonemes = self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA) or b""
            end = pointer.value - base if pointer.value else len(data)
            if pointer.value and not start < end <= len(data):
                raise RuntimeError(f"espeak_TextToPhonemes moved the text pointer from byte {start} to {end}")
            consumed = data[start:end].decode("utf-8", errors="replace")
            mark = _CLAUSE_END.search(consumed)
            punctuation = _CLAUSE_MARKS.get(mark.group(1)[-1], "") if mark else ""
            clauses.append(IpaClause(phonemes.decode("utf-8", errors="replace").strip(), punctuation))
        return clauses


def _voice_dictionary(voice_file: str, codes: list[str]) -> str:
    """The dictionary a voice file loads: its "dictionary" line, else its first language without the region."""
    default = codes[0].split("-", 1)[0] if codes else ""
    try:
        with open(voice_file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "dictionary":
                    return fields[1]
    except OSError:
        return default
    return default


def _load_engine() -> _Engine:
    """Load and initialize libespeak-ng once per process (caller holds `_LOCK`)."""
    global _ENGINE
    if _ENGINE is None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise ImportError(
                "the espeak-ng TTS backend needs the optional GPL-3.0 package espeakng-loader: "
                "pip install espeakng-loader (or pip install 'eai-avatar[tts]')"
            ) from exc
        lib_path = espeakng_loader.get_library_path()
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise ImportError(f"could not load libespeak-ng from {lib_path!r}: {exc}") from exc
        _ENGINE = _Engine(lib, espeakng_loader.get_data_path())
    return _ENGINE


def phonemize_ipa(text: str, voice: str = "en-us") -> list[IpaClause]:
    """`text` as IPA phonemes, clause by clause, as espeak-ng would speak it with `voice` (e.g. for a neural voice
    trained on espeak's phonemes). ValueError for an unknown voice; ImportError when espeak-ng is not installed."""
    check_text(text)
    with _LOCK:
        engine = _load_engine()
        resolved = engine.resolve_voice(voice) if isinstance(voice, str) else None
        if resolved is None:
            raise ValueError(f"unknown espeak-ng voice {voice!r}")
        return engine.phonemize_ipa(text, resolved)


def _check_range(label: str, value: int | None, default: int, bounds: tuple[int, int]) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{label} must be an integer in {bounds[0]}..{bounds[1]}, got {value!r}")
    return value


def _clean_phoneme(name: str) -> str:
    """espeak's mnemonic without stress marks; every pause ("_", "_:", "_!", ...) becomes "_"."""
    name = name.lstrip(_STRESS_MARKS)
    return _PAUSE if not name or name.startswith(_PAUSE) else name


_LANGUAGE_SWITCH = re.compile(r"^\(\w+\)$")
#: Stops whose silent closure espeak-ng times as the end of the sound before them (their span is the burst).
_STOPS = frozenset({"p", "b", "t", "d", "k", "g", "t2", "d2", "t#", "d#"})
#: A closure: 5 ms frames this far below the loudest of the sound before it.
_CLOSURE_DB = 30.0
#: The longest closure moved, and the least left of the sound before it.
_CLOSURE_MAX_S, _KEEP_S = 0.12, 0.02


def _closures_to_their_stops(samples: np.ndarray, timings: list[PhonemeTiming]) -> list[PhonemeTiming]:
    """Each stop's span moved back over its closure (the silence before its burst), which espeak-ng counts as
    the sound before it: the lips of a "p" are shut during that silence, not during the burst after it."""
    frame = SAMPLE_RATE // 200
    count = len(samples) // frame
    if count == 0:
        return timings
    level = 10 * np.log10(np.mean(samples[: count * frame].astype(np.float64).reshape(count, frame) ** 2, axis=1) + 1.0)
    moved = list(timings)
    for i in range(1, len(moved)):
        stop, before = moved[i], moved[i - 1]
        if stop.phoneme not in _STOPS or before.phoneme == _PAUSE:
            continue
        first, last = int(before.start_s * 200), int(stop.start_s * 200)  # frames of the sound before
        if last - first < 2:
            continue
        quiet = level[first:last].max() - _CLOSURE_DB
        earliest = max(first + int(_KEEP_S * 200), last - int(_CLOSURE_MAX_S * 200))
        boundary = last
        while boundary > earliest and level[boundary - 1] < quiet:
            boundary -= 1
        if boundary < last:
            moved[i - 1] = PhonemeTiming(before.phoneme, before.start_s, boundary / 200)
            moved[i] = PhonemeTiming(stop.phoneme, boundary / 200, stop.end_s)
    return moved


def _phoneme_timings(events: list[_RawEvent], duration_s: float) -> list[PhonemeTiming]:
    """Phoneme events -> contiguous spans covering [0, duration_s]: each ends where the next starts.

    Silence before the first phoneme becomes a pause, adjacent pauses merge, and empty spans are dropped, so the
    list is ordered, non-overlapping and inside the audio.
    """
    marks: list[tuple[str, float]] = []
    previous = 0.0
    for event in events:
        if event.type != _EVENT_PHONEME or _LANGUAGE_SWITCH.match(event.phoneme):
            continue  # "(en)", "(de)": a voice switching language for a word, not a sound
        start = min(max(event.audio_ms / 1000.0, previous), duration_s)
        marks.append((_clean_phoneme(event.phoneme), start))
        previous = start
    if not marks:
        return []
    if marks[0][1] > 0.0:
        marks.insert(0, (_PAUSE, 0.0))
    timings: list[PhonemeTiming] = []
    for i, (phoneme, start) in enumerate(marks):
        end = marks[i + 1][1] if i + 1 < len(marks) else duration_s
        if end <= start:
            continue
        if timings and phoneme == _PAUSE and timings[-1].phoneme == _PAUSE and timings[-1].end_s == start:
            timings[-1] = PhonemeTiming(_PAUSE, timings[-1].start_s, end)
        else:
            timings.append(PhonemeTiming(phoneme, start, end))
    return timings


_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


def _token_at(starts: list[int], index: int) -> int:
    """The token (by its start offset) holding character `index`; on whitespace, the token before it (espeak
    points just past a symbol it expands into several words, e.g. an emoji), or the first when none is before."""
    before = bisect.bisect_right(starts, index) - 1
    return max(before, 0)


def _word_timings(events: list[_RawEvent], phonemes: list[PhonemeTiming], text: str) -> list[WordTiming]:
    """Word events -> one timing per whitespace-delimited word of `text`, in text order.

    espeak's text_position is a 1-based character index, but its length is unreliable (it stops at apostrophes)
    and one written token may be several spoken words ("123" -> "one hundred and twenty three"), so each event is
    mapped to the written token it points into and consecutive events of one token merge. A word's span is
    tightened to its non-pause phonemes, so pauses between words belong to no word.
    """
    tokens = list(_TOKEN.finditer(text))
    word_events = [e for e in events if e.type == _EVENT_WORD]
    if not tokens or not word_events or not phonemes:
        return []
    duration_s = phonemes[-1].end_s
    token_starts = [token.start() for token in tokens]
    phoneme_starts = [p.start_s for p in phonemes]
    spans: list[tuple[int, float, float]] = []  # (token index, start, end)
    for i, event in enumerate(word_events):
        window_start = min(event.audio_ms / 1000.0, duration_s)
        window_end = min(word_events[i + 1].audio_ms / 1000.0, duration_s) if i + 1 < len(word_events) else duration_s
        window = phonemes[
            bisect.bisect_left(phoneme_starts, window_start) : bisect.bisect_left(phoneme_starts, window_end)
        ]
        spoken = [p for p in window if p.phoneme != _PAUSE]
        start = spoken[0].start_s if spoken else window_start
        end = spoken[-1].end_s if spoken else max(window_start, window_end)
        token = _token_at(token_starts, event.text_position - 1)
        if spans and token <= spans[-1][0]:  # same written word (or espeak looking back): extend it
            spans[-1] = (spans[-1][0], spans[-1][1], max(spans[-1][2], end))
        else:
            spans.append((token, start, end))
    words = []
    for token, start, end in spans:
        written = tokens[token].group()
        words.append(WordTiming(_EDGE_PUNCTUATION.sub("", written) or written, start, end))
    return words


class EspeakBackend(TTSBackend):
    """espeak-ng through ctypes: 22,050 Hz synthesis resampled to 16 kHz, with phoneme and word timings.

    `voices()` is a curated list of distinct English speakers; `synthesize` also accepts any espeak-ng language
    code with an optional "+variant" (`languages()`, `variants()`). `rate` (words per minute, 80-450) and `pitch`
    (0-100) default to espeak's 175 and 50 and can be overridden per call.
    """

    name = "espeak"

    def __init__(self, rate: int | None = None, pitch: int | None = None):
        self.rate = _check_range("rate", rate, DEFAULT_RATE, RATE_RANGE)
        self.pitch = _check_range("pitch", pitch, DEFAULT_PITCH, PITCH_RANGE)
        with _LOCK:
            self._engine = _load_engine()

    def voices(self) -> list[str]:
        """The curated English speakers (ENGLISH_VOICES), the names an application assigns to its characters."""
        return list(ENGLISH_VOICES)

    def accepts(self, voice: str) -> bool:
        """Any curated voice, and any espeak-ng language with an optional +variant."""
        return isinstance(voice, str) and self._engine.resolve_voice(voice) is not None

    def languages(self) -> list[str]:
        """Every espeak-ng language code usable as a voice, alone or with "+variant"."""
        return sorted(self._engine.languages)

    def variants(self) -> list[str]:
        """Voice variants ("f3", "m5", "klatt4", ...) that may follow a language after "+"."""
        return sorted(self._engine.variants.values())

    def synthesize(self, text: str, voice: str, *, rate: int | None = None, pitch: int | None = None) -> SpeechAudio:
        """Speak `text` with `voice`; ValueError for empty or over-long text, an unknown voice or a bad rate/pitch."""
        check_text(text)
        resolved = self._engine.resolve_voice(voice) if isinstance(voice, str) else None
        if resolved is None:
            raise ValueError(
                f"unknown espeak-ng voice {voice!r}; valid voices include {', '.join(ENGLISH_VOICES[:6])}, "
                f"or any language from languages() with an optional +variant from variants()"
            )
        rate = _check_range("rate", rate, self.rate, RATE_RANGE)
        pitch = _check_range("pitch", pitch, self.pitch, PITCH_RANGE)
        with _LOCK:
            native, events = self._engine.synthesize(text, resolved, rate, pitch)
            native_rate = self._engine.sample_rate
        samples = resample(native, native_rate, SAMPLE_RATE)
        duration_s = len(samples) / SAMPLE_RATE
        phonemes = _closures_to_their_stops(samples, _phoneme_timings(events, duration_s))
        words = _word_timings(events, phonemes, text)
        return SpeechAudio(samples, SAMPLE_RATE, phonemes=phonemes, words=words, text=text, voice=resolved)
