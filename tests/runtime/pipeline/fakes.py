"""Stand-ins for the models, so the turn pipeline's stages are tested without espeak-ng, MiniLM or ONNX engines.

The bundle is the real shipped one (identities, rigs, first masks, LEED: small files); everything that runs a
network is a fake whose output is easy to predict."""

from __future__ import annotations

import numpy as np

from eai_avatar.runtime.bundle import Bundle, default_bundle_path
from eai_avatar.runtime.config import RuntimeConfig
from eai_avatar.runtime.engines.base import Engine, TensorSpec
from eai_avatar.runtime.itt import EmotionEstimate
from eai_avatar.runtime.models.audio2exp import ExpressionGenerator
from eai_avatar.runtime.models.head_masks import HeadMaskGenerator
from eai_avatar.runtime.models.leed import ListeningDictionary
from eai_avatar.runtime.tts.base import PhonemeTiming, SpeechAudio, TTSBackend
from eai_avatar.vocabulary import BLENDSHAPE_INDEX, EMOTIONS, SAMPLE_RATE

JAW = BLENDSHAPE_INDEX["jawOpen"]


class FakeVoice(TTSBackend):
    """70 ms of a 200 Hz tone per character: the length of a line is predictable, loud everywhere."""

    name = "fake"

    def __init__(self):
        self.calls = []

    def voices(self) -> list[str]:
        return ["fake-1", "fake-2"]

    def accepts(self, voice: str) -> bool:
        # the bundle's identities name voice chains such as "hibari:heart|en-us+f3": any of those will do here
        return voice in self.voices() or all(part.strip() for part in voice.split("|"))

    def synthesize(self, text: str, voice: str) -> SpeechAudio:
        if not self.accepts(voice):
            raise ValueError(f"unknown voice {voice!r}")
        self.calls.append((text, voice))
        n = int(0.07 * SAMPLE_RATE * len(text))
        samples = (np.sin(np.arange(n) * 2 * np.pi * 200 / SAMPLE_RATE) * 8000).astype(np.int16)
        return SpeechAudio(samples, SAMPLE_RATE, phonemes=[PhonemeTiming("'a", 0.1, 0.3)], text=text, voice=voice)


class FakeRecognizer:
    """C that reads the emotion off the first word when it is an emotion's name, else neutral."""

    def __init__(self):
        self.calls = []

    def recognize(self, text: str) -> EmotionEstimate:
        self.calls.append(text)
        word = text.split()[0].strip(".,!?").lower()
        return EmotionEstimate.certain(word if word in EMOTIONS else "neutral", 0.8)


def fake_expressions() -> ExpressionGenerator:
    """jawOpen = the frame's loudness (so a face follows its audio), everything else 0."""

    def run(features: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        frames = features.shape[1] - 2 * 2
        out = np.zeros((1, frames, 52), np.float32)
        out[0, :, JAW] = np.clip((features[0, 2 : 2 + frames].mean(axis=1) + 11.5) / 2, 0, 1)  # silence: -11.5
        return out

    return ExpressionGenerator(run, context=2)


def fake_head_masks(size: int = 64) -> HeadMaskGenerator:
    """A disc that drifts one pixel per window: every stream moves, deterministically."""

    def encode(masks: np.ndarray) -> np.ndarray:
        ys, xs = np.mgrid[:size, :size]
        area = masks[:, 0].sum(axis=(1, 2))
        cx = (masks[:, 0] * xs).sum(axis=(1, 2)) / area
        return np.stack([cx, area], axis=1).astype(np.float32)

    def generate(z1: np.ndarray, eta: np.ndarray, eps: np.ndarray) -> np.ndarray:
        ys, xs = np.mgrid[:size, :size]
        frames = eta.shape[1]
        out = np.zeros((1, frames, size, size), np.float32)
        for t in range(frames):
            cx = z1[0, 0] + 0.05 * t
            out[0, t] = ((xs - cx) ** 2 + (ys - size * 0.45) ** 2 < (size * 0.3) ** 2).astype(np.float32)
        return out

    return HeadMaskGenerator(encode, generate, latent_dim=2, window=32, overlap=8)


class FakeRenderer(Engine):
    """RGBA = the control's mask in every channel: which frame went where is checkable."""

    name = "fake-renderer"

    def __init__(self, size: int = 64):
        self.size, self.batches = size, []

    def input_spec(self):
        return [TensorSpec("control", ("batch", 4, self.size, self.size), "float32"),
                TensorSpec("identity", ("batch",), "int64")]  # fmt: skip

    def output_spec(self):
        return [TensorSpec("rgba", ("batch", 4, self.size, self.size), "float32")]

    def run(self, inputs):
        self.batches.append(len(inputs["identity"]))
        mask = inputs["control"][:, :1]
        return {"rgba": np.repeat(mask, 4, axis=1) * (1 + inputs["identity"][:, None, None, None]) / 4}


class FakeTranscriber:
    """Speech recognition that says how long the audio was: "words 1.2 s" (empty for silence)."""

    name = "fake"

    def __init__(self):
        self.calls = 0

    def transcribe(self, samples, prompt: str = ""):
        from eai_avatar.runtime.asr.base import Transcript

        self.calls += 1
        loud = np.abs(samples.astype(np.float64)).max() > 1000 if len(samples) else False
        return Transcript(f"words {len(samples) / SAMPLE_RATE:.1f} s" if loud else "")


class FakeModels:
    """What `Models` offers, with fakes behind it."""

    def __init__(self, size: int = 64, config: RuntimeConfig | None = None):
        self.bundle = Bundle(default_bundle_path(), verify=False)
        self.config = config or RuntimeConfig()
        self.head_masks = fake_head_masks()
        self.expressions = fake_expressions()
        self.leed = ListeningDictionary.load(self.bundle.path("leed"))
        self.renderer = FakeRenderer(size)
        self.image_size = size
        self.recognizer = FakeRecognizer()
        self.tts = FakeVoice()
        self.speech_recognizer = FakeTranscriber()

    def speech_recognizer_available(self):
        from eai_avatar.runtime.pipeline.models import Availability

        return Availability(self.speech_recognizer is not None, "" if self.speech_recognizer else "fake: none")
