"""`eai-avatar data talk --character NAME --out MP4`: one studio character saying corpus lines, as a video with sound.

Made for trying ingestion and fine-tuning on a character: `data talk` -> `data ingest` -> `train audio2exp
--finetune`. The lines come from the emotion corpus, all of one emotion; the voice and seed are yours to pick.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from eai_avatar.vocabulary import EMOTIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--character", required=True, help="a studio character (ada, bo, cyra, dev, eli)")
    parser.add_argument("--out", type=Path, required=True, help="MP4 to write")
    parser.add_argument("--emotion", choices=EMOTIONS, default="happy")
    parser.add_argument("--lines", type=int, default=8, help="how many lines to say (default 8)")
    parser.add_argument("--voice", default="en-us+m3", help="espeak-ng voice (default en-us+m3)")
    parser.add_argument("--seed", type=int, default=7, help="which lines, and the motion's randomness")
    parser.add_argument("--skip", type=int, default=0, help="skip this many lines first (another video, other lines)")
    parser.add_argument("--size", type=int, default=256, help="frame size in pixels (default 256)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from eai_avatar.export.data.emotion_corpus import build_corpus
    from eai_avatar.export.studio.characters import CHARACTERS
    from eai_avatar.export.studio.dataset import ClipPlan, make_clip, read_wav
    from eai_avatar.media import write_mp4
    from eai_avatar.runtime.tts.espeak import EspeakBackend

    if args.character not in CHARACTERS:
        raise ValueError(f"unknown character {args.character!r}; choose one of {', '.join(CHARACTERS)}")
    if not 1 <= args.lines <= 100 or args.skip < 0:
        raise ValueError(f"--lines must be 1..100 and --skip >= 0, got {args.lines} and {args.skip}")
    rng = np.random.default_rng(args.seed)
    pool = [text for text, emotion in build_corpus(per_emotion=200, seed=args.seed) if emotion == args.emotion]
    order = rng.permutation(len(pool))[args.skip : args.skip + args.lines]
    listener = next(name for name in CHARACTERS if name != args.character)
    tts, frames, audio = EspeakBackend(), [], []
    with tempfile.TemporaryDirectory() as scratch:
        for number, index in enumerate(order):
            plan = ClipPlan(f"line-{number:03d}", number, "train", args.character, listener, args.emotion,
                            args.emotion, pool[index], args.voice, int(rng.integers(2**31)))  # fmt: skip
            record = make_clip(plan, Path(scratch), args.size, tts)
            clip = Path(scratch) / record["path"]
            with np.load(clip / "speaker.npz") as arrays:
                frames.append(arrays["frames"])
            audio.append(read_wav(clip / "audio.wav"))
    write_mp4(args.out, np.concatenate(frames), 25, np.concatenate(audio), 16_000)
    seconds = sum(len(f) for f in frames) / 25
    sys.stdout.write(f"wrote {args.out}: {args.character} says {len(order)} {args.emotion} lines, {seconds:.1f} s\n")
    return 0
