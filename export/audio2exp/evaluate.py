"""Audio2Exp on held-out clips (voices and sentences it never trained on), with the issue's metrics.

- Mouth: mean absolute error of the lip-sync blendshapes, and the Pearson correlation of jawOpen (and the mean
  over the lip-sync shapes that move) between prediction and ground truth, over all speaking frames.
- Silence: predicted jawOpen inside pauses longer than 200 ms (the lead/tail silences and gaps between phonemes),
  skipping 100 ms at each edge where the mouth is still closing (the rig's relax time); the mouth must close
  (mean under 0.05).
- Emotion: does the emotion show? A nearest-centroid classifier fitted on the ground-truth *training* faces
  (clip means of the blendshapes that are not lip-sync shapes and not blinks) names the emotion of predicted
  faces. Every test utterance is run with each of the 8 emotions, so the audio cannot give the answer away.
- Voices: the same metrics split by clips whose voice training used and clips whose voice it never heard.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from eai_avatar.export.audio2exp.data import load_examples, one_hot
from eai_avatar.export.models.audio2exp import Audio2Exp
from eai_avatar.export.studio.dataset import load_manifest
from eai_avatar.runtime.models.audio2exp import ExpressionGenerator
from eai_avatar.runtime.motion.visemes import SILENCE_RELAX_S, is_pause
from eai_avatar.vocabulary import ARKIT_BLENDSHAPES, FPS, LIP_SYNC_BLENDSHAPES, SAMPLE_RATE

LIP_SYNC = [ARKIT_BLENDSHAPES.index(n) for n in LIP_SYNC_BLENDSHAPES]
JAW_OPEN = ARKIT_BLENDSHAPES.index("jawOpen")
# What carries emotion outside the mouth: everything but lip-sync shapes and blinks (blinks are random).
EXPRESSIVE = [i for i, n in enumerate(ARKIT_BLENDSHAPES) if i not in LIP_SYNC and not n.startswith("eyeBlink")]
MIN_PAUSE_S = 0.2
PAUSE_EDGE_S = SILENCE_RELAX_S  # the rig's own time to rest after a speech sound


def torch_expression_fn(model: Audio2Exp):
    @torch.no_grad()
    def run(features: np.ndarray, emotion: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(features), torch.from_numpy(emotion)).numpy()

    return run


def pause_frames(phonemes: list, frames: int) -> np.ndarray:
    """Boolean (frames,): inside a pause longer than MIN_PAUSE_S, at least PAUSE_EDGE_S from its edges."""
    spans = sorted((float(start), float(end)) for name, start, end in phonemes if not is_pause(name))
    times = (np.arange(frames) + 0.5) / FPS
    gaps, cursor = [], 0.0
    for start, end in spans:
        gaps.append((cursor, start))
        cursor = max(cursor, end)
    gaps.append((cursor, frames / FPS))
    inside = np.zeros(frames, bool)
    for start, end in gaps:
        if end - start > MIN_PAUSE_S:
            inside |= (times > start + PAUSE_EDGE_S) & (times < end - PAUSE_EDGE_S)
    return inside


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() < 1e-6 or b.std() < 1e-6:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _mouth_metrics(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """pairs of (predicted, true, pause mask) per clip -> pooled mouth and silence metrics."""
    predicted = np.concatenate([p for p, _, _ in pairs])
    true = np.concatenate([t for _, t, _ in pairs])
    pauses = np.concatenate([m for _, _, m in pairs])
    moving = [i for i in LIP_SYNC if true[:, i].std() > 0.01]
    correlations = [_correlation(predicted[:, i], true[:, i]) for i in moving]
    silent_jaw = predicted[pauses, JAW_OPEN]
    return {
        "mouth_mae": float(np.abs(predicted[:, LIP_SYNC] - true[:, LIP_SYNC]).mean()),
        "jaw_open_correlation": _correlation(predicted[:, JAW_OPEN], true[:, JAW_OPEN]),
        "mouth_correlation_mean": float(np.nanmean(correlations)) if correlations else float("nan"),
        "jaw_open_in_pauses_mean": float(silent_jaw.mean()) if len(silent_jaw) else None,  # None: no known pauses
        "jaw_open_in_pauses_p95": float(np.percentile(silent_jaw, 95)) if len(silent_jaw) else None,
        "pause_frames": int(pauses.sum()),
        "clips": len(pairs),
        "frames": len(predicted),
    }


def _clip_phonemes(dataset: Path, manifest: dict) -> dict[str, list | None]:
    """Each clip's phoneme timings, or None where they are unknown (an ingested video has none)."""
    return {r["clip_id"]: json.loads((dataset / r["path"] / "meta.json").read_text(encoding="utf-8")).get("phonemes")
            for r in manifest["clips"]}  # fmt: skip


def _pauses(phonemes: list | None, frames: int) -> np.ndarray:
    return pause_frames(phonemes, frames) if phonemes else np.zeros(frames, bool)


def mouth_metrics(model: Audio2Exp, dataset: Path, split: str = "test") -> dict:
    """Mouth and silence metrics alone (no emotion classifier), e.g. for clips of an unseen voice family."""
    dataset = Path(dataset)
    generator = ExpressionGenerator(torch_expression_fn(model.eval()), model.config.context)
    phonemes = _clip_phonemes(dataset, load_manifest(dataset))
    pairs = []
    for example in load_examples(dataset, split, roles=("speaker",)):
        predicted = generator.run(example["features"], one_hot(example["emotion"]))
        pairs.append((predicted, example["blendshapes"], _pauses(phonemes[example["clip"]], len(predicted))))
    return _mouth_metrics(pairs)


def evaluate_audio2exp(model: Audio2Exp, dataset: Path, split: str = "test") -> dict:
    model.eval()
    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    train_voices = set(manifest.get("held_out", {}).get("train_voices", []))
    generator = ExpressionGenerator(torch_expression_fn(model), model.config.context)
    phonemes = _clip_phonemes(dataset, manifest)
    examples = load_examples(dataset, split, roles=("speaker",))
    # Emotion classifier on ground-truth training faces (speaking: the listening face is another table).
    train = load_examples(dataset, "train", roles=("speaker",))
    known = sorted({e["emotion"] for e in train})
    centroids = np.stack([np.mean([e["blendshapes"][:, EXPRESSIVE].mean(0) for e in train if e["emotion"] == k], 0)
                          for k in known])  # fmt: skip

    def classify(blendshapes: np.ndarray) -> int:
        return known[int(np.argmin(((centroids - blendshapes[:, EXPRESSIVE].mean(0)) ** 2).sum(-1)))]

    groups: dict[str, list] = {"all": [], "seen_voices": [], "unseen_voices": []}
    correct = total = 0
    for example in examples:
        predicted = generator.run(example["features"], one_hot(example["emotion"]))
        pauses = _pauses(phonemes[example["clip"]], len(predicted))
        pair = (predicted, example["blendshapes"], pauses)
        groups["all"].append(pair)
        groups["seen_voices" if example["voice"] in train_voices else "unseen_voices"].append(pair)
        for emotion in known:
            counterfactual = generator.run(example["features"], one_hot(emotion))
            correct += classify(counterfactual) == emotion
            total += 1
    report = {name: _mouth_metrics(pairs) for name, pairs in groups.items() if pairs}
    report["emotion_recovered"] = correct / max(total, 1)
    report["emotion_trials"] = total
    truths = [classify(e["blendshapes"]) == e["emotion"] for e in examples if e["emotion"] in known]
    report["ground_truth_emotion_recovered"] = float(np.mean(truths)) if truths else float("nan")
    report["settings"] = {"split": split, "context_frames": model.config.context}
    return report


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def to_markdown(report: dict, unseen_family: dict | None = None) -> str:
    lines = [
        f"Audio2Exp on {report['all']['clips']} held-out speaking clips ({report['all']['frames']} frames):", "",
        "| clips | mouth MAE | jawOpen r | mouth r (mean) | jawOpen in pauses (mean / p95) |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    rows = [(k, report[k]) for k in ("all", "seen_voices", "unseen_voices") if k in report]
    if unseen_family:
        rows.append((f"unseen voice family ({unseen_family['family']})", unseen_family["metrics"]))
    for name, m in rows:
        lines.append(f"| {name.replace('_', ' ')} ({m['clips']}) | {m['mouth_mae']:.4f} | "
                     f"{m['jaw_open_correlation']:.3f} | {m['mouth_correlation_mean']:.3f} | "
                     f"{_number(m['jaw_open_in_pauses_mean'])} / {_number(m['jaw_open_in_pauses_p95'])} |")  # fmt: skip
    lines += ["", f"Emotion recovered from the predicted face (non-mouth shapes, each utterance with all 8 emotions): "
                  f"{report['emotion_recovered']:.3f} of {report['emotion_trials']} "
                  f"(the same classifier on ground-truth test faces: "
                  f"{report['ground_truth_emotion_recovered']:.3f})."]  # fmt: skip
    return "\n".join(lines)


def comparison_video(model: Audio2Exp, dataset: Path, out: Path, split: str = "test", size: int = 256) -> str:
    """MP4 with sound of a held-out clip's speaker: Audio2Exp's face | the ground truth, same head motion.

    Picks the first test clip whose voice training never heard (else the first test clip); returns its summary.
    """
    from eai_avatar.export.studio.characters import CHARACTERS, CharacterRenderer
    from eai_avatar.export.studio.dataset import read_wav
    from eai_avatar.media import write_mp4
    from eai_avatar.runtime.rig import HeadPose, RigState

    dataset = Path(dataset)
    manifest = load_manifest(dataset)
    train_voices = set(manifest.get("held_out", {}).get("train_voices", []))
    records = [r for r in manifest["clips"] if r["clip_id"] in set(manifest["splits"][split])]
    if not records:
        raise ValueError(f"the {split!r} split of {dataset} has no clips")
    record = next((r for r in records if r["voice"] not in train_voices), records[0])
    clip = dataset / record["path"]
    audio = read_wav(clip / "audio.wav")
    with np.load(clip / "speaker.npz") as arrays:
        truth, poses = arrays["blendshapes"], arrays["poses"]
    generator = ExpressionGenerator(torch_expression_fn(model.eval()), model.config.context)
    predicted = generator.whole(audio, SAMPLE_RATE, record["speaker_emotion"])[: len(truth)]
    renderer = CharacterRenderer(CHARACTERS[record["speaker"]])
    frames = [
        np.concatenate([renderer.render(RigState(w, HeadPose.from_array(p)), (size, size)).rgb for w in (a, b)], 1)
        for a, b, p in zip(predicted, truth[: len(predicted)], poses, strict=False)
    ]
    write_mp4(out, np.stack(frames), FPS, audio, SAMPLE_RATE)
    return (f"{record['clip_id']}: {record['speaker']} says {record['text']!r} ({record['speaker_emotion']}, "
            f"voice {record['voice']}); left Audio2Exp, right ground truth")  # fmt: skip
