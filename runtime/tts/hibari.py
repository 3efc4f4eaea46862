"""hibari's "heart" voice (American English, female; distilled from Kokoro-82M's af_heart) at 16 kHz.

hibari runs a 7.9 MB ONNX model with its own grapheme-to-phoneme rules, over a hundred times real time on one core.
Only "heart" ships inside its wheel; its other voices download from a model hub on first use, which a server must
never do, so this backend speaks "heart" alone and always hands hibari the bundled file's path.

Licence: hibari-tts is Apache-2.0, as are Kokoro-82M and misaki, which its voice and rules come from.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

import numpy as np

from eai_avatar.runtime.tts.base import SentenceBackend, check_threads, pcm16_at_model_rate

logger = logging.getLogger(__name__)

VOICE = "heart"


def bundled_model_path() -> str:
    """The "heart" model file inside the hibari package (never a download); ImportError when hibari is missing or
    ships no such file."""
    try:
        from hibari.voices import ASSETS, VOICES
    except ImportError as exc:
        raise ImportError(
            "the hibari voice needs the optional package hibari-tts: pip install 'eai-avatar[voices]'"
        ) from exc
    entry = VOICES.get(VOICE, {})
    path = os.path.join(ASSETS, entry.get("file", ""))
    if not entry.get("bundled") or not os.path.isfile(path):
        raise ImportError(f"this hibari-tts has no bundled {VOICE!r} voice ({path}): pip install hibari-tts==0.2.1")
    return path


class HibariBackend(SentenceBackend):
    """hibari's "heart" at 16 kHz, sentence by sentence (hibari's own split), without phoneme timings.

    Args:
        threads: onnxruntime threads for the model.
        seed: hibari adds a noise component to its vocoder; it is drawn from `seed`, so the same text, speed and seed
            give the same audio.
    """

    name = "hibari"
    voice = VOICE

    def __init__(self, threads: int = 1, seed: int = 0):
        check_threads(threads)
        model = bundled_model_path()
        import hibari

        self.seed = seed
        self.native_rate = int(hibari.SAMPLE_RATE)
        self._tts = hibari.Hibari(voice=VOICE, model=model, threads=threads)
        # hibari's rules (lexicons, tagger) are not documented as thread-safe: one sentence at a time.
        self._lock = threading.Lock()
        logger.info("hibari voice %s loaded from %s (%d Hz)", VOICE, model, self.native_rate)

    def _sentences(self, text: str, speed: float) -> Iterator[tuple[str, np.ndarray]]:
        # One generator for the whole line, as hibari's own stream: the pieces joined are hibari's whole reading.
        rng = np.random.default_rng(self.seed)
        for sentence in self._tts.split_sentences(text):
            with self._lock:
                chunks = [self._tts.from_ids(self._tts.ids(p), speed, rng) for p in self._tts.phonemize(sentence)]
            audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
            yield sentence, pcm16_at_model_rate(np.clip(audio, -1.0, 1.0), self.native_rate)
