"""`eai-avatar bench asr`: how fast the speech recognizer runs on this machine.

Real-time factor (seconds of compute per second of audio), median over the held-out lines in one voice, and the
latency of a 3 s utterance, the length of a typical line a player says, from its last sample to its text.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report, time_calls
from eai_avatar.runtime.commands.eval_asr import add_recognizer_arguments, recognizer_from_args
from eai_avatar.vocabulary import SAMPLE_RATE

UTTERANCE_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_recognizer_arguments(parser)
    parser.add_argument(
        "--voice", default="espeak:en-us", help="the voice that speaks the lines (default espeak:en-us)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of the 3 s utterance (default 5)")
    parser.add_argument("--lines", type=int, help="only the first N held-out lines (default: all 24)")
    parser.add_argument("--word-timestamps", action="store_true", help="with word timings (an extra alignment pass)")


def three_seconds(utterances: list[np.ndarray]) -> np.ndarray:
    """The longest utterance of at most 3 s, centred in silence to exactly 3 s (else the first, cut to 3 s)."""
    length = round(UTTERANCE_S * SAMPLE_RATE)
    fitting = [u for u in utterances if len(u) <= length]
    if not fitting:
        return utterances[0][:length].copy()
    speech = max(fitting, key=len)
    padded = np.zeros(length, np.int16)
    start = (length - len(speech)) // 2
    padded[start : start + len(speech)] = speech
    return padded


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.asr.evaluate import make_voice, transcribe_timed
    from eai_avatar.runtime.asr.sentences import HELDOUT_SENTENCES

    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    if args.lines is not None and args.lines < 1:
        raise ValueError(f"--lines must be at least 1, got {args.lines}")
    speak = make_voice(args.voice)
    utterances = [speak(sentence) for sentence in HELDOUT_SENTENCES[: args.lines]]
    started = time.perf_counter()
    options = {"word_timestamps": True} if args.word_timestamps and args.recognizer == "whisper" else {}
    recognizer = recognizer_from_args(args, **options)
    load_ms = (time.perf_counter() - started) * 1000
    try:
        recognizer.transcribe(utterances[0])  # warm-up
        factors = [transcribe_timed(recognizer, u)[1] / (len(u) / SAMPLE_RATE) for u in utterances]
        clip = three_seconds(utterances)
        latency = time_calls(lambda: recognizer.transcribe(clip), args.repeats, warmup=0)
    finally:
        recognizer.close()
    result = {
        "benchmark": "asr",
        "machine": machine(),
        "recognizer": repr(recognizer),
        "voice": args.voice,
        "load_ms": round(load_ms, 1),
        "real_time_factor_median": round(float(np.median(factors)), 4),
        "real_time_factor_max": round(float(np.max(factors)), 4),
        "utterances": len(utterances),
        "audio_s_median": round(float(np.median([len(u) for u in utterances])) / SAMPLE_RATE, 2),
        "latency_3s_ms_median": latency["ms_median"],
        "latency_3s_ms_p95": latency["ms_p95"],
        "word_timestamps": bool(options),
    }
    return report(
        result,
        args.json,
        f"speech recognition on {result['machine']}\n"
        f"  {result['recognizer']}, lines spoken by {args.voice}\n"
        f"  real-time factor: median {result['real_time_factor_median']}, max {result['real_time_factor_max']} "
        f"({result['utterances']} lines, median {result['audio_s_median']} s)\n"
        f"  a 3 s utterance:  median {result['latency_3s_ms_median']} ms, p95 {result['latency_3s_ms_p95']} ms "
        f"({args.repeats} calls)\n"
        f"  load:             {result['load_ms']} ms\n",
    )
