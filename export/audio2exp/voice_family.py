"""The held-out test sentences spoken again by a synthesizer voice family that training never used.

espeak-ng is the only synthesizer the studio has, so the unseen family is espeak-ng's voices of *other languages*
reading the English sentences: their phoneme inventories, prosody and formant settings differ from every English
voice the training clips use. Ground truth comes from the same studio pipeline (their phoneme timings -> visemes).
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

from eai_avatar.export.studio.dataset import FORMAT, FORMAT_VERSION, ClipPlan, load_manifest, make_clip

#: German, French, Spanish and Italian espeak-ng voices; none of them is in the studio's English voice list.
DEFAULT_FAMILY = ("de", "fr", "es", "it")


def respeak_test_clips(dataset: Path, out: Path, voices=DEFAULT_FAMILY, limit: int = 24, progress=None) -> Path:
    """A small dataset at `out` (test split only) of `dataset`'s test clips in `voices`, rendered at 64x64."""
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    manifest = load_manifest(dataset)
    train_voices = set(manifest.get("held_out", {}).get("train_voices", []))
    if overlap := train_voices & set(voices):
        raise ValueError(f"voices {sorted(overlap)} were used in training; the unseen family must be new")
    if (out / "manifest.json").exists():
        return out  # made before: reuse
    tts = EspeakBackend()
    records = {r["clip_id"]: r for r in manifest["clips"]}
    test_ids = manifest["splits"]["test"][:limit]
    names = {f.name for f in fields(ClipPlan)}
    made = []
    iterator = progress(test_ids, desc="re-speaking test clips", unit="clip") if progress else test_ids
    for number, clip_id in enumerate(iterator):
        meta = json.loads((dataset / records[clip_id]["path"] / "meta.json").read_text(encoding="utf-8"))
        plan = replace(ClipPlan(**{k: v for k, v in meta.items() if k in names}), voice=voices[number % len(voices)])
        made.append(make_clip(plan, out, 64, tts))
    out.mkdir(parents=True, exist_ok=True)
    family = {"format": FORMAT, "format_version": FORMAT_VERSION, "splits": {"train": [], "val": [], "test": [
        r["clip_id"] for r in made]}, "clips": made, "held_out": {"train_voices": sorted(train_voices),
        "unseen_family": list(voices)}}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(family, indent=1), encoding="utf-8")
    return out
