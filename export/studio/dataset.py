"""The synthetic dyadic dialogue dataset: clips of one character speaking while the other listens.

Each clip holds the speaker's 16 kHz voice with phoneme and word timings, and for both roles 25 fps ARKit
blendshapes, head poses, head masks, facial-motion images E_t and RGB frames, with the emotion each role
carries. Texts come from the project's emotion corpus, so all 8 emotions appear. The split is by sentence and
by voice: test clips use sentences and at least one voice that train never uses.

    DIR/manifest.json                     format, rates, identities, splits, one record per clip
    DIR/identities/<name>/rig.json        each identity's rig parameters
    DIR/shards/<shard>/<clip>/audio.wav   the speaker's voice (PCM16 mono, 16 kHz)
    DIR/shards/<shard>/<clip>/meta.json   text, voice, emotions, phoneme and word timings
    DIR/shards/<shard>/<clip>/speaker.npz blendshapes (T, 52) float32, poses (T, 6) float32,
    DIR/shards/<shard>/<clip>/listener.npz  masks (T, H, W) uint8, motion (T, H, W, 3) uint8, frames (T, H, W, 3) uint8
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eai_avatar.export.studio.characters import CHARACTERS, CharacterRenderer
from eai_avatar.runtime.motion.expressions import expression_sequence
from eai_avatar.runtime.motion.head_motion import LISTENING, SPEAKING, head_pose_sequence
from eai_avatar.runtime.rig import HeadPose, RigState
from eai_avatar.runtime.tts.base import PhonemeTiming, SpeechAudio
from eai_avatar.vocabulary import EMOTIONS, FPS, SAMPLE_RATE

logger = logging.getLogger(__name__)

FORMAT = "eai-avatar-dyadic"
FORMAT_VERSION = 1
CLIPS_PER_SHARD = 100
LEAD_S, TAIL_S = 0.3, 0.3  # silence around each utterance, so every clip shows the mouth closing
# Voices that only test clips use (the first one the TTS backend has); train never hears them.
TEST_ONLY_VOICE_CANDIDATES = ("en-sc", "en-029", "en-us+m3")


@dataclass(frozen=True)
class SynthConfig:
    """What `eai-avatar data synth` makes."""

    out: Path
    identities: int = 4
    clips: int = 200
    seed: int = 0
    image_size: int = 256
    workers: int = 2
    val_fraction: float = 0.1
    test_fraction: float = 0.15

    def __post_init__(self):
        if not 2 <= self.identities <= len(CHARACTERS):
            raise ValueError(f"identities must be 2..{len(CHARACTERS)} (a dyad needs two), got {self.identities}")
        if self.clips < 3:
            raise ValueError(f"clips must be at least 3 (one per split), got {self.clips}")
        if self.image_size not in (64, 128, 256, 512):
            raise ValueError(f"image_size must be 64, 128, 256 or 512, got {self.image_size}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")


@dataclass(frozen=True)
class ClipPlan:
    """Everything random about a clip, decided up front so workers and reruns agree."""

    clip_id: str
    index: int
    split: str
    speaker: str
    listener: str
    speaker_emotion: str
    listener_emotion: str
    text: str
    voice: str
    seed: int


def plan_clips(config: SynthConfig, voices: list[str]) -> tuple[list[ClipPlan], dict]:
    """Decide every clip's split, characters, emotions, sentence and voice; returns the plans and split facts."""
    from eai_avatar.export.data.emotion_corpus import build_corpus

    rng = np.random.default_rng(config.seed)
    test_voice = next((v for v in TEST_ONLY_VOICE_CANDIDATES if v in voices), voices[-1])
    train_voices = [v for v in voices if v != test_voice]
    if not train_voices:
        raise ValueError("the TTS backend needs at least two voices: one is held out for the test split")
    identities = list(CHARACTERS)[: config.identities]
    n_test = max(1, round(config.clips * config.test_fraction))
    n_val = max(1, round(config.clips * config.val_fraction))
    splits = ["test"] * n_test + ["val"] * n_val + ["train"] * (config.clips - n_test - n_val)
    # Sentences: disjoint pools per split, every emotion in each.
    per_emotion = math.ceil(config.clips / len(EMOTIONS)) + 8
    corpus = build_corpus(per_emotion=per_emotion, seed=config.seed)
    pools: dict[str, dict[str, list[str]]] = {s: {e: [] for e in EMOTIONS} for s in ("train", "val", "test")}
    for text, emotion in corpus:
        bucket = rng.random()
        split = "test" if bucket < 0.2 else "val" if bucket < 0.32 else "train"
        pools[split][emotion].append(text)
    plans = []
    for index, split in enumerate(splits):
        emotion = EMOTIONS[index % len(EMOTIONS)]
        pool = pools[split][emotion] or pools["train"][emotion]
        text = pool[int(rng.integers(len(pool)))]
        speaker, listener = rng.choice(identities, size=2, replace=False)
        # The listener mostly mirrors what it hears, sometimes not (the ITT's listen node may differ).
        listener_emotion = emotion if rng.random() < 0.7 else EMOTIONS[int(rng.integers(len(EMOTIONS)))]
        voice = test_voice if split == "test" and index % 2 == 0 else train_voices[int(rng.integers(len(train_voices)))]
        plans.append(
            ClipPlan(
                f"clip-{index:05d}",
                index,
                split,
                str(speaker),
                str(listener),
                emotion,
                listener_emotion,
                text,
                voice,
                int(rng.integers(2**31)),
            )  # fmt: skip
        )
    facts = {"test_only_voices": [test_voice], "train_voices": train_voices,
             "sentences": {s: sum(len(v) for v in pools[s].values()) for s in pools}}  # fmt: skip
    return plans, facts


def _shifted(phonemes: list[PhonemeTiming], offset: float) -> list[PhonemeTiming]:
    return [PhonemeTiming(p.phoneme, p.start_s + offset, p.end_s + offset) for p in phonemes]


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Mono PCM16 at the model rate."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(samples.astype("<i2").tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as handle:
        if handle.getnchannels() != 1 or handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected mono PCM16")
        return np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.int16)


def render_role(renderer: CharacterRenderer, blendshapes: np.ndarray, poses: np.ndarray, size: int) -> dict:
    frames, masks, motion = [], [], []
    for weights, pose in zip(blendshapes, poses, strict=True):
        frame = renderer.render(RigState(weights, HeadPose.from_array(pose)), (size, size))
        frames.append(frame.rgb)
        masks.append(frame.mask)
        motion.append(frame.motion)
    return {"blendshapes": blendshapes.astype(np.float32), "poses": poses.astype(np.float32),
            "masks": np.stack(masks), "motion": np.stack(motion), "frames": np.stack(frames)}  # fmt: skip


def make_clip(plan: ClipPlan, out: Path, image_size: int, tts=None) -> dict:
    """Synthesize, animate and render one clip into `out/<shard>/<clip>/`; returns its manifest record."""
    if tts is None:
        from eai_avatar.runtime.tts.espeak import EspeakBackend

        tts = EspeakBackend()
    rng = np.random.default_rng(plan.seed)
    speech: SpeechAudio = tts.synthesize(plan.text, plan.voice)
    lead, tail = int(LEAD_S * SAMPLE_RATE), int(TAIL_S * SAMPLE_RATE)
    audio = np.concatenate([np.zeros(lead, np.int16), speech.samples, np.zeros(tail, np.int16)])
    frames = int(math.ceil(len(audio) / SAMPLE_RATE * FPS))
    audio = np.pad(audio, (0, frames * SAMPLE_RATE // FPS - len(audio)))  # whole frames of audio
    phonemes = _shifted(speech.phonemes, LEAD_S)
    words = [{"word": w.word, "start_s": w.start_s + LEAD_S, "end_s": w.end_s + LEAD_S} for w in speech.words]
    speaker_shapes = expression_sequence(phonemes, frames, plan.speaker_emotion, "speak", rng)
    listener_shapes = expression_sequence([], frames, plan.listener_emotion, "listen", rng)
    speaker_poses = head_pose_sequence(frames, SPEAKING, rng, phonemes=phonemes)
    listener_poses = head_pose_sequence(frames, LISTENING, rng)
    clip_dir = out / "shards" / f"shard-{plan.index // CLIPS_PER_SHARD:05d}" / plan.clip_id
    clip_dir.mkdir(parents=True, exist_ok=True)
    for role, name, shapes, poses in (
        ("speaker", plan.speaker, speaker_shapes, speaker_poses),
        ("listener", plan.listener, listener_shapes, listener_poses),
    ):
        arrays = render_role(CharacterRenderer(CHARACTERS[name]), shapes, poses, image_size)
        np.savez_compressed(clip_dir / f"{role}.npz", **arrays)
    write_wav(clip_dir / "audio.wav", audio)
    meta = asdict(plan) | {
        "frames": frames,
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "duration_s": frames / FPS,
        "phonemes": [[p.phoneme, round(p.start_s, 4), round(p.end_s, 4)] for p in phonemes],
        "words": words,
        "path": str(clip_dir.relative_to(out)),
    }
    (clip_dir / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return {k: meta[k] for k in ("clip_id", "split", "speaker", "listener", "speaker_emotion", "listener_emotion",
                                 "text", "voice", "frames", "duration_s", "path")}  # fmt: skip


_WORKER_TTS = None


def _worker(args: tuple[ClipPlan, Path, int]) -> dict:
    # One TTS engine per worker process (espeak-ng keeps global state).
    global _WORKER_TTS
    if _WORKER_TTS is None:
        from eai_avatar.runtime.tts.espeak import EspeakBackend

        _WORKER_TTS = EspeakBackend()
    plan, out, size = args
    return make_clip(plan, out, size, _WORKER_TTS)


def synthesize_dataset(config: SynthConfig, progress=None) -> dict:
    """Make the whole dataset; returns the manifest (also written to DIR/manifest.json)."""
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    started = time.perf_counter()
    out = Path(config.out)
    if (out / "manifest.json").exists():
        raise ValueError(f"{out} already holds a dataset (manifest.json); choose an empty folder")
    out.mkdir(parents=True, exist_ok=True)
    plans, facts = plan_clips(config, EspeakBackend().voices())
    jobs = [(plan, out, config.image_size) for plan in plans]
    if config.workers == 1:
        results = map(_worker, jobs)
    else:
        pool = ProcessPoolExecutor(max_workers=min(config.workers, os.cpu_count() or 1))
        results = pool.map(_worker, jobs, chunksize=1)
    if progress is not None:
        results = progress(results, total=len(jobs), desc="synthesizing clips", unit="clip")
    records = list(results)
    if config.workers != 1:
        pool.shutdown()
    for name in list(CHARACTERS)[: config.identities]:
        identity_dir = out / "identities" / name
        identity_dir.mkdir(parents=True, exist_ok=True)
        (identity_dir / "rig.json").write_text(CHARACTERS[name].rig.to_json(), encoding="utf-8")
    elapsed = time.perf_counter() - started
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "image_size": [config.image_size, config.image_size],
        "emotions": list(EMOTIONS),
        "seed": config.seed,
        "identities": {
            name: {"display_name": CHARACTERS[name].display_name, "rig": f"identities/{name}/rig.json"}
            for name in list(CHARACTERS)[: config.identities]
        },  # fmt: skip
        "splits": {s: [r["clip_id"] for r in records if r["split"] == s] for s in ("train", "val", "test")},
        "held_out": facts,
        "clips": records,
        "stats": {
            "clips": len(records),
            "seconds": round(elapsed, 1),
            "clips_per_minute": round(60 * len(records) / max(elapsed, 1e-9), 1),
            "frames": int(sum(r["frames"] for r in records)),
        },  # fmt: skip
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def load_manifest(path: str | Path) -> dict:
    path = Path(path)
    manifest_path = path / "manifest.json" if path.is_dir() else path
    if not manifest_path.is_file():
        raise FileNotFoundError(f"no dataset manifest at {manifest_path}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{manifest_path} is not an {FORMAT} v{FORMAT_VERSION} dataset")
    return manifest
