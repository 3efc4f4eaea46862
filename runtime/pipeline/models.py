"""The models every session shares, loaded once per server on the engines the runtime config names."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from eai_avatar.runtime.bundle import Bundle
from eai_avatar.runtime.config import MODELS, RuntimeConfig
from eai_avatar.runtime.models.audio2exp import ExpressionGenerator, engine_expression_generator
from eai_avatar.runtime.models.crhmg_onnx import engine_head_mask_generator
from eai_avatar.runtime.models.head_masks import HeadMaskGenerator
from eai_avatar.runtime.models.leed import ListeningDictionary


@dataclass(frozen=True)
class Availability:
    """Whether something can be used here, and why not; true when it can."""

    available: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.available


class Models:
    """The bundle's models (all stateless per call) and the recognizer and voice, made on first use.

    Args:
        bundle: a verified engine bundle.
        config: engine backend per model and threads (default: onnxruntime on the CPU, 2 threads).
        threads: overrides `config.threads`.
        recognizer, tts: ready-made ones (tests pass fakes; a server makes its own on first use).
    """

    def __init__(self, bundle: Bundle, config: RuntimeConfig | None = None, threads: int | None = None,
                 recognizer=None, tts=None, speech_recognizer=None):  # fmt: skip
        self.bundle = bundle
        self.config = config or RuntimeConfig()
        threads = threads or self.config.threads
        engines = {name: bundle.engine(name, self.config.engines[name], **self._engine_options(name, threads))
                   for name in MODELS}  # fmt: skip
        self.head_masks: HeadMaskGenerator = engine_head_mask_generator(
            engines["crhmg_encoder"], engines["crhmg_generator"]
        )
        self.expressions: ExpressionGenerator = engine_expression_generator(engines["audio2exp"])
        self.leed = ListeningDictionary.load(bundle.path("leed"))
        self.renderer = engines["renderer"]
        batching = self.config.batching
        if batching.renderer:  # every session's frames through one queue, in shared batches
            from eai_avatar.runtime.engines.batching import BatchingEngine

            self.renderer = BatchingEngine(self.renderer, batching.max_batch, batching.max_wait_ms / 1000)
        self.image_size = next(s.shape[-1] for s in self.renderer.input_spec() if s.name == "control")
        self._recognizer, self._tts = recognizer, tts
        self._speech_recognizer, self._speech_problem = speech_recognizer, ""
        self._lock = threading.Lock()

    def _engine_options(self, name: str, threads: int) -> dict:
        """What model `name`'s backend is made with: a Triton server's address, or threads on this machine."""
        if self.config.engines[name] == "triton":
            return {"url": self.config.triton.url, "timeout_s": self.config.triton.timeout_s}
        return {"threads": threads}

    def close(self) -> None:
        """Stop what runs beside the sessions (the renderer's batcher): after the server has stopped its streams."""
        from eai_avatar.runtime.engines.batching import BatchingEngine

        if isinstance(self.renderer, BatchingEngine):
            self.renderer.close()

    @property
    def recognizer(self):
        """The emotion recognizer C (MiniLM + the bundle's head), created on first use."""
        if self._recognizer is None:
            from eai_avatar.runtime.emotion import EmotionRecognizer

            self._recognizer = EmotionRecognizer(head=self.bundle.path("emotion_head"))
        return self._recognizer

    @property
    def tts(self):
        """The offline TTS (a VoiceBank: natural voices, espeak-ng), created on first use; turns that bring their own
        audio never need it."""
        if self._tts is None:
            from eai_avatar.runtime.tts.voices import VoiceBank

            self._tts = VoiceBank(threads=self.config.threads)
        return self._tts

    @property
    def speech_recognizer(self):
        """The speech recognizer the config names (offline Whisper by default), made on first use; None where it
        cannot be made here (its package missing: `speech_recognizer_available()` says why)."""
        with self._lock:
            if self._speech_recognizer is None and not self._speech_problem:
                name = self.config.speech_recognizer
                if name == "none":
                    self._speech_problem = "speech recognition is off in the runtime config"
                else:
                    from eai_avatar.runtime.asr.base import create_recognizer

                    try:
                        options = {"threads": self.config.threads} if name == "whisper" else {}
                        self._speech_recognizer = create_recognizer(name, **options)
                    except (ImportError, RuntimeError, OSError, ValueError) as exc:
                        self._speech_problem = str(exc)
            return self._speech_recognizer

    def speech_recognizer_available(self) -> Availability:
        recognizer = self.speech_recognizer
        return Availability(recognizer is not None, self._speech_problem)

    def voices(self) -> list[str] | None:
        """The voices the TTS accepts, or None when no TTS is installed."""
        try:
            return list(self.tts.voices())
        except (ImportError, RuntimeError, OSError):
            return None
