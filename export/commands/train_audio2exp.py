"""`eai-avatar train audio2exp --data DIR --out DIR [--finetune --init MODEL_DIR]`: speech + emotion -> face."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="a dataset from `eai-avatar data synth` (with --finetune: `data ingest`)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, help="folder for checkpoints and the trained model")
    parser.add_argument("--preset", help="quick (2 CPU cores, < 20 min; the default), full (GPU), tiny (tests); "
                                         "finetune is the default with --finetune")  # fmt: skip
    parser.add_argument("--finetune", action="store_true", help="adapt the model in --init to one character's data")
    parser.add_argument("--init", type=Path, help="with --finetune: the trained model folder to start from")
    parser.add_argument("--steps", type=int, help="override the preset's number of steps")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--threads", type=int, help="override the preset's CPU threads")
    parser.add_argument("--no-resume", action="store_true", help="start over even if out/checkpoint exists")
    parser.add_argument("--speech", type=Path, nargs="+", default=[], metavar="DIR",
                        help="speech folders (`eai-avatar data speech`) whose voices also teach the mouth")  # fmt: skip
    parser.add_argument("--speech-copies", type=int, default=2,
                        help="augmented copies of each speech utterance besides the clean one (default 2)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.audio2exp.train import preset, train_audio2exp

    if args.finetune and not args.init:
        raise ValueError("--finetune needs --init MODEL_DIR: the trained Audio2Exp to adapt")
    if args.init and not args.finetune:
        raise ValueError("--init is for fine-tuning; add --finetune")
    config = preset(
        args.preset or ("finetune" if args.finetune else "quick"),
        steps=args.steps,
        seed=args.seed,
        threads=args.threads,
    )
    report = train_audio2exp(args.data, args.out, config, progress=tqdm, resume=not args.no_resume, init=args.init,
                             speech=args.speech, speech_copies=args.speech_copies)  # fmt: skip
    last = report["history"][-1] if report["history"] else {}
    sys.stdout.write(
        json.dumps({"steps": report["steps"], "seconds_this_run": report["seconds_this_run"], "last": last}) + "\n"
    )
    sys.stdout.write(f"saved {args.out / 'audio2exp.safetensors'}\n")
    return 0
