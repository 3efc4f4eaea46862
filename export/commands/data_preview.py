"""`eai-avatar data preview DIR --out MP4`: a dataset clip as video with sound: speaker | listener | E_t | mask."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, help="a folder made by `eai-avatar data synth`")
    parser.add_argument("--clip", help="clip id (default: the first test clip)")
    parser.add_argument("--out", type=Path, default=Path("clip.mp4"), help="MP4 to write")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from eai_avatar.export.studio.dataset import load_manifest, read_wav
    from eai_avatar.media import write_mp4

    manifest = load_manifest(args.dataset)
    records = {r["clip_id"]: r for r in manifest["clips"]}
    clip_id = args.clip or (manifest["splits"]["test"] or list(records))[0]
    if clip_id not in records:
        raise ValueError(f"no clip {clip_id!r} in {args.dataset}")
    clip_dir = args.dataset / records[clip_id]["path"]
    with np.load(clip_dir / "speaker.npz") as speaker, np.load(clip_dir / "listener.npz") as listener:
        masks = np.repeat(speaker["masks"][..., None], 3, axis=-1)
        video = np.concatenate([speaker["frames"], listener["frames"], speaker["motion"], masks], axis=2)
    meta = json.loads((clip_dir / "meta.json").read_text(encoding="utf-8"))
    write_mp4(args.out, video, meta["fps"], read_wav(clip_dir / "audio.wav"), meta["sample_rate"])
    sys.stdout.write(
        f"wrote {args.out}: {clip_id} ({meta['split']}), {meta['speaker']} speaks ({meta['speaker_emotion']}) in "
        f"voice {meta['voice']}, {meta['listener']} listens ({meta['listener_emotion']}): {meta['text']!r}\n"
    )
    return 0
