"""`eai-avatar data speech --out DIR [--voices V,..] [--sentences FILE] [--limit N] [--seed S]` / `--list`.

Speech from several synthesizer families, each utterance with the synthesizer's own phone timings and visemes, in
the folder format of `eai_avatar.export.speech.folder`. Every voice says the same sentences (the project's training
sentences unless --sentences), in an order the seed shuffles, so voices can be compared line by line. `--list` says
which families and voices this machine has, and what to install for the others.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_VOICES = "all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="folder to write (must not hold a speech folder already)")
    parser.add_argument(
        "--voices",
        default=DEFAULT_VOICES,
        help="comma-separated family:voice list, e.g. espeak:en-us,festival:kdlpc16k,flite:awb; "
        "'all' (the default) is every voice --list shows",
    )
    parser.add_argument("--sentences", type=Path, help="text file, one sentence a line (# comments and blanks skipped)")
    parser.add_argument("--limit", type=int, help="at most this many sentences per voice")
    parser.add_argument("--seed", type=int, default=0, help="the order of the sentences, hence which --limit keeps")
    parser.add_argument("--list", action="store_true", help="list the sources and voices available here, and stop")


def read_sentences(path: Path) -> list[str]:
    """The sentences of a text file: one a line, blank lines and lines starting with '#' skipped."""
    lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    sentences = [line for line in lines if line and not line.startswith("#")]
    if not sentences:
        raise ValueError(f"{path} has no sentences")
    return sentences


def _list_sources() -> int:
    from eai_avatar.export.speech.base import RESERVED_VOICE_TOKENS
    from eai_avatar.export.speech.sources import source_statuses

    for status in source_statuses():
        if status.unavailable:
            sys.stdout.write(f"{status.family}: unavailable: {status.unavailable}\n")
            continue
        sys.stdout.write(f"{status.family}: {status.version}\n")
        for voice in status.voices:
            sys.stdout.write(f"  {status.family}:{voice}\n")
    reserved = ", ".join(sorted(RESERVED_VOICE_TOKENS))
    sys.stdout.write(f"reserved for independent evaluation, never spoken here: voices named {reserved}\n")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list_sources()
    import numpy as np
    from tqdm import tqdm

    from eai_avatar.export.speech.folder import utterance_id, write_speech_folder
    from eai_avatar.export.speech.sentences import TRAINING_SENTENCES
    from eai_avatar.export.speech.sources import create_source, parse_voice, source_statuses

    if args.out is None:
        raise ValueError("--out is required (or --list)")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    sentences = read_sentences(args.sentences) if args.sentences else list(TRAINING_SENTENCES)
    if args.voices.strip() == "all":
        labels = [f"{s.family}:{voice}" for s in source_statuses() if not s.unavailable for voice in s.voices]
    else:
        labels = [label.strip() for label in args.voices.split(",") if label.strip()]
    if not labels:
        raise ValueError("no voices to speak with (see --list)")
    # Every voice is checked (reserved, family installed, voice known) before anything is spoken.
    sources, voices = {}, []
    for label in labels:
        family, voice = parse_voice(label)
        if family not in sources:
            sources[family] = create_source(family)
        voices.append((sources[family], sources[family].check_voice(voice)))
    order = np.random.default_rng(args.seed).permutation(len(sentences))[: args.limit]
    programs = {family: source.program_version() for family, source in sources.items()}

    progress = tqdm(total=len(voices) * len(order), desc="speech", unit="utt")

    def spoken():
        for source, voice in voices:
            for index in order:
                progress.set_postfix_str(f"{source.family}:{voice}", refresh=False)
                speech = source.speak(sentences[index], voice)
                progress.update(1)
                yield utterance_id(speech.voice, int(index)), speech

    try:
        manifest = write_speech_folder(args.out, spoken(), programs)
    finally:
        progress.close()
    seconds = sum(entry["duration"] for entry in manifest["utterances"])
    sys.stdout.write(
        f"wrote {args.out}: {len(manifest['utterances'])} utterances, {len(manifest['voices'])} voices "
        f"({', '.join(manifest['voices'])}), {seconds / 60:.1f} min of speech\n"
    )
    return 0
