"""`eai-avatar bench emotion`: latency of the emotion recognizer C on this machine's CPU."""

from __future__ import annotations

import argparse
import time

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report

# Utterances of typical dialogue length (5-20 words) for timing; their labels do not matter here.
SAMPLE_UTTERANCES = (
    "Hi there, how was your weekend?",
    "I can't believe you forgot my birthday again, that's the third year in a row!",
    "The train leaves at half past seven, so we should be at the station by seven.",
    "Oh wow, you actually finished the whole marathon?",
    "Honestly, I don't think I can face another day at that office.",
    "Ugh, something in the fridge has gone completely rotten.",
    "Please don't leave me alone in this house tonight, I keep hearing noises.",
    "We won! We actually won the final!",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per utterance (default 50)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.emotion import EmotionRecognizer

    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    started = time.perf_counter()
    recognizer = EmotionRecognizer()
    load_ms = (time.perf_counter() - started) * 1000
    recognizer.recognize(SAMPLE_UTTERANCES[0])  # warm-up
    single = []
    for _ in range(args.repeats):
        for text in SAMPLE_UTTERANCES:
            t0 = time.perf_counter()
            recognizer.recognize(text)
            single.append((time.perf_counter() - t0) * 1000)
    batch = list(SAMPLE_UTTERANCES) * 4  # 32 utterances
    t0 = time.perf_counter()
    for _ in range(max(1, args.repeats // 5)):
        recognizer.recognize_batch(batch)
    batch_ms = (time.perf_counter() - t0) * 1000 / (max(1, args.repeats // 5) * len(batch))
    result = {
        "benchmark": "emotion",
        "machine": machine(),
        "load_ms": round(load_ms, 1),
        "single_ms_median": round(float(np.median(single)), 2),
        "single_ms_p95": round(float(np.percentile(single, 95)), 2),
        "batch32_ms_per_utterance": round(batch_ms, 2),
        "calls": len(single),
    }
    return report(
        result,
        args.json,
        f"emotion recognition on {result['machine']}\n"
        f"  one utterance: median {result['single_ms_median']} ms, p95 {result['single_ms_p95']} ms "
        f"({result['calls']} calls)\n"
        f"  batch of 32:   {result['batch32_ms_per_utterance']} ms per utterance\n"
        f"  load:          {result['load_ms']} ms\n",
    )
