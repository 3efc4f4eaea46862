"""Audio2Exp examples from speech folders: many synthesizers' voices with phone timings, each heard several ways.

The studio's clips speak with espeak-ng alone, so a model trained on them learns espeak's voice. A speech folder
(export/speech: `<id>.wav` + `<id>.json` with timed phones and their visemes) adds other synthesizer families;
each utterance gives its clean audio and `copies` augmented variants (export/audio2exp/augment.py: pitch, tempo,
loudness, room, noise, phone line, codec). The targets are the studio's viseme path on the phones (times scaled
with the tempo), the same ground truth the studio's clips have for the mouth.

Only the mouth is taught from these examples: they carry a `mask` that is 1 on the lip-sync blendshapes and 0
elsewhere, because their eyes and brows have no ground truth (the studio's characters blink and frown; a speech
folder is only a voice). Their emotion is neutral.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from eai_avatar.export.audio2exp.augment import AugmentConfig, augment
from eai_avatar.export.audio2exp.lipsync import read_speech_utterance, speech_folder_wavs, viseme_baseline_faces
from eai_avatar.runtime.models.audio2exp import video_features
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, LIP_SYNC_BLENDSHAPES, SAMPLE_RATE, emotion_index

#: 1 on the blendshapes a speech folder teaches (the mouth), 0 on the rest.
LIP_SYNC_MASK = np.array([name in LIP_SYNC_BLENDSHAPES for name in ARKIT_BLENDSHAPES], np.float32)


#: Silence put before and after each utterance. Training windows reach past a clip's ends, where they hear
#: silence and hold its first or last face (export/audio2exp/data.py): that face must be the rest pose, as it is in
#: the studio's clips, and a synthesizer's wave often starts on its first sound.
EDGE_SILENCE_S = 0.3


def speech_example(samples: np.ndarray, phones: Sequence, voice: str, clip: str) -> dict:
    """One Audio2Exp example from 16 kHz audio and its timed phones (export/audio2exp/lipsync.Phone), with
    EDGE_SILENCE_S of silence on both sides."""
    edge = int(EDGE_SILENCE_S * SAMPLE_RATE)
    samples = np.concatenate([np.zeros(edge, samples.dtype), samples, np.zeros(edge, samples.dtype)])
    phones = [replace(p, start=p.start + EDGE_SILENCE_S, end=p.end + EDGE_SILENCE_S) for p in phones]
    features = video_features(samples, SAMPLE_RATE)
    return {"features": features, "blendshapes": viseme_baseline_faces(phones, len(features)),
            "emotion": emotion_index("neutral"), "role": "speaker", "voice": voice, "clip": clip,
            "mask": LIP_SYNC_MASK}  # fmt: skip


def load_speech_examples(folders: Sequence[Path], copies: int = 2, seed: int = 0, config: AugmentConfig | None = None,
                         progress: Callable | None = None) -> list[dict]:  # fmt: skip
    """Every utterance of `folders`: its clean example and `copies` augmented ones (seeded: the same each time)."""
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    wavs = [wav for folder in folders for wav in speech_folder_wavs(Path(folder))]
    rng = np.random.default_rng(seed)
    examples = []
    for wav in progress(wavs, desc="speech examples", unit="utterance") if progress else wavs:
        utterance = read_speech_utterance(wav)
        clip = f"{wav.parent.name}/{utterance.utterance_id}"
        examples.append(speech_example(utterance.samples, utterance.phones, utterance.voice, clip))
        for copy in range(copies):
            audio, time_scale = augment(utterance.samples, rng, config)
            phones = [replace(p, start=p.start * time_scale, end=p.end * time_scale) for p in utterance.phones]
            examples.append(speech_example(audio, phones, utterance.voice, f"{clip}#{copy + 1}"))
    return examples
