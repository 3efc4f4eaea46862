"""`eai-avatar voices [--bundle DIR] [--bench] [--json]`: the voices this machine can speak with, and each character's.

Lists every curated voice (backend, native sample rate, gender, accent, licence, and why it is unavailable where it
is), each bundle identity's voice chain with the voice it resolves to here, and with `--bench` each backend's speed
in seconds of speech per second of one process's time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: What `--bench` reads: three sentences of everyday speech (about 8 s).
BENCH_TEXT = (
    "The quick brown fox jumps over the lazy dog. Could you pass me the salt, please? "
    "I would love to visit the mountains again next summer!"
)
#: The voice `--bench` times for each backend.
BENCH_VOICES = {"hibari": "hibari:heart", "piper": "piper:joe", "espeak": "en-us"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, default=None, help="the bundle whose characters to show (default: "
                        "the one that ships)")  # fmt: skip
    parser.add_argument("--bench", action="store_true", help="time each backend (seconds of speech per second)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per neural voice (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed syntheses per backend with --bench")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def bench(bank, voice: str, repeats: int) -> dict:
    """Seconds of speech per second of synthesis for `voice` after one untimed warm-up, and how long the first
    sentence of a streamed line takes (what a listener waits for)."""
    bank.synthesize(BENCH_TEXT, voice)
    speech_s = wall_s = first_s = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        speech_s += bank.synthesize(BENCH_TEXT, voice).duration_s
        wall_s += time.perf_counter() - started
        started = time.perf_counter()
        next(bank.stream(BENCH_TEXT, voice))
        first_s += time.perf_counter() - started
    return {"voice": voice, "speech_s": round(speech_s, 3), "wall_s": round(wall_s, 4),
            "x_real_time": round(speech_s / wall_s, 1), "first_piece_ms": round(1000 * first_s / repeats, 1),
            "whole_line_ms": round(1000 * wall_s / repeats, 1)}  # fmt: skip


def identities(bank, bundle: Path) -> dict[str, dict]:
    """Each identity's voice chain and what it resolves to here (None, with the problem, when nothing can speak)."""
    from eai_avatar.runtime.bundle import read_manifest

    result = {}
    for name, entry in read_manifest(bundle)["identities"].items():
        try:
            result[name] = {"chain": entry["voice"], "voice": bank.resolve(entry["voice"]), "problem": None}
        except ValueError as exc:
            result[name] = {"chain": entry["voice"], "voice": None, "problem": str(exc)}
    return result


def collect(args: argparse.Namespace) -> dict:
    """The facts the command reports, as plain data."""
    from eai_avatar.runtime.bundle import default_bundle_path
    from eai_avatar.runtime.tts.voices import VoiceBank

    if args.threads < 1 or args.repeats < 1:
        raise ValueError(f"--threads and --repeats must be at least 1, got {args.threads} and {args.repeats}")
    bank = VoiceBank(threads=args.threads)
    for backend in BENCH_VOICES:
        bank.backend(backend)  # load now, so a backend that fails to load is reported as such
    facts = {
        "backends": {name: {"available": bank.unavailable(name) is None, "reason": bank.unavailable(name)}
                     for name in BENCH_VOICES},
        "voices": [{**vars(info), "available": reason is None, "reason": reason}
                   for info, reason in bank.catalogue()],
        "bundle": str(args.bundle or default_bundle_path()),
    }  # fmt: skip
    facts["identities"] = identities(bank, Path(facts["bundle"]))
    if args.bench:
        facts["bench"] = {name: bench(bank, voice, args.repeats) for name, voice in BENCH_VOICES.items()
                          if bank.unavailable(name) is None}  # fmt: skip
        facts["bench_threads"] = args.threads
    return facts


def render_text(facts: dict) -> str:
    lines = ["backends:"]
    licences = {v["backend"]: v["licence"] for v in facts["voices"]}
    for name, state in facts["backends"].items():
        lines.append(f"  {name:7s} {'available' if state['available'] else state['reason']}")
        lines.append(f"          licence: {licences[name]}")
    lines.append("voices (every backend hands the pipeline 16 kHz; the voice's own rate shown):")
    for v in facts["voices"]:
        status = "" if v["available"] else "  (unavailable)"
        lines.append(f"  {v['name']:20s} {v['backend']:7s} {v['sample_rate']:6d} Hz  {v['gender']:7s} {v['accent']}"
                     f"{status}")  # fmt: skip
    lines.append(f"characters ({facts['bundle']}):")
    for name, entry in facts["identities"].items():
        spoken = entry["voice"] or f"nothing can speak: {entry['problem']}"
        lines.append(f"  {name:6s} {entry['chain']:32s} -> {spoken}")
    if "bench" in facts:
        lines.append(f"speed ({facts['bench_threads']} thread(s); seconds of speech per second):")
        for result in facts["bench"].values():
            first, whole = result["first_piece_ms"], result["whole_line_ms"]
            lines.append(f"  {result['voice']:14s} {result['x_real_time']:8.1f}x real time "
                         f"({result['speech_s']:.1f} s of speech in {result['wall_s']:.2f} s); "
                         f"a 3-sentence line: first sentence {first:.0f} ms, whole {whole:.0f} ms")  # fmt: skip
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    import json

    facts = collect(args)
    sys.stdout.write(json.dumps(facts) + "\n" if args.json else render_text(facts))
    return 0
