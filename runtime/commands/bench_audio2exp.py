"""`eai-avatar bench audio2exp --onnx DIR`: CPU time of Audio2Exp per second of speech, features included."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eai_avatar.runtime.commands.benchmarking import machine, report, time_calls


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--onnx", type=Path, required=True, help="audio2exp.onnx or the folder holding it")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the utterance (default 10 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.engines import create_engine
    from eai_avatar.runtime.models.audio2exp import engine_expression_generator, video_features
    from eai_avatar.vocabulary import SAMPLE_RATE

    if not 0.2 <= args.seconds <= 600:
        raise ValueError(f"--seconds must lie in [0.2, 600], got {args.seconds}")
    path = args.onnx / "audio2exp.onnx" if args.onnx.is_dir() else args.onnx
    generator = engine_expression_generator(create_engine(path, threads=args.threads))
    rng = np.random.default_rng(0)
    # Noise shaped like speech's level; the timing does not depend on what is said.
    audio = (rng.standard_normal(int(args.seconds * SAMPLE_RATE)) * 3000).astype(np.int16)
    whole = time_calls(lambda: generator.whole(audio, SAMPLE_RATE, "happy"), args.repeats)
    features = video_features(audio, SAMPLE_RATE)
    model_only = time_calls(lambda: generator.run(features, "happy"), args.repeats)

    def streamed():
        stream = generator.stream("happy", min_frames=12)
        for start in range(0, len(audio), SAMPLE_RATE // 2):  # 0.5 s chunks, as a turn arrives
            stream.push(audio[start : start + SAMPLE_RATE // 2])
        stream.finish()

    stream = time_calls(streamed, max(3, args.repeats // 3))
    per_second = {k: round(v / args.seconds, 2) for k, v in whole.items()}
    result = {"benchmark": "audio2exp", "seconds_of_audio": args.seconds, "threads": args.threads,
              "machine": machine(), "ms_per_audio_second_median": per_second["ms_median"],
              "ms_per_audio_second_p95": per_second["ms_p95"], "whole_ms": whole, "model_only_ms": model_only,
              "streamed_0.5s_chunks_ms": stream, "context_frames": generator.context}  # fmt: skip
    return report(
        result,
        args.json,
        f"Audio2Exp, {args.seconds:g} s of speech, onnxruntime CPU, {args.threads} threads ({result['machine']}):\n"
        f"  whole utterance (features + model): {per_second['ms_median']} ms per second of audio "
        f"(p95 {per_second['ms_p95']})\n"
        f"  model alone: median {model_only['ms_median']} ms; streamed in 0.5 s chunks: median "
        f"{stream['ms_median']} ms for the {args.seconds:g} s",
    )
