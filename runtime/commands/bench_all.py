"""`eai-avatar bench [all] [--json] [--markdown FILE]`: every runtime benchmark on a bundle, one table.

Runs the emotion recognizer, CRHMG, Audio2Exp, the renderer (batch 1 and 2) and the server end to end, each
through its own `bench` command with its defaults, and writes their figures as one Markdown table (the README
includes it) with the machine they ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
from pathlib import Path

from eai_avatar.runtime.commands.benchmarking import machine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", type=Path, help="engine bundle (default: the one that ships)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--json", action="store_true")


def _run(module: str, argv: list[str]) -> dict:
    """One bench command's JSON result, run in this process."""
    command = importlib.import_module(f"eai_avatar.runtime.commands.{module}")
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        command.run(parser.parse_args([*argv, "--json"]))
    return json.loads(out.getvalue().strip().splitlines()[-1])


def table(results: dict, where: str) -> str:
    e, c, a = results["emotion"], results["crhmg"], results["audio2exp"]
    r1, r2, rt = results["renderer_batch1"], results["renderer_batch2"], results["runtime"]
    rows = [
        ("emotion recognition, one utterance", f"median {e['single_ms_median']} ms", "< 10 ms"),
        ("CRHMG, one second of masks (windows, crossfades)", f"{c['ms_per_second_median']} ms", "< 20 ms"),
        ("Audio2Exp, per second of speech", f"{a['ms_per_audio_second_median']} ms", "< 10 ms"),
        ("renderer 256x256, batch 1", f"{r1['frames_per_second']} frames/s", ">= 50 frames/s"),
        ("renderer 256x256, batch 2 (both avatars)", f"{r2['frames_per_second']} frames/s", ""),
        ("server: a turn's text to its first frame", f"{rt['first_frame_ms_median']} ms", "< 300 ms"),
        ("server: real-time factor, two avatars", f"{rt['real_time_factor']}", "<= 1.0"),
        ("server: sessions at real time", f"{rt['sessions_at_real_time']}", ""),
        ("server: memory with one session", f"{rt.get('server_rss_mb_1_session')} MB", "<= 400 MB"),
        ("server: memory per further session", f"{rt.get('server_rss_mb_per_further_session')} MB", "< 40 MB"),
    ]  # fmt: skip
    lines = [f"Benchmarks on {where} (`eai-avatar bench --markdown FILE`):", "", "| benchmark | figure | goal |",
             "|---|---|---|", *(f"| {name} | {figure} | {goal} |" for name, figure, goal in rows)]  # fmt: skip
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path

    bundle = Bundle(args.bundle or default_bundle_path())
    root = str(bundle.root)
    results = {
        "emotion": _run("bench_emotion", []),
        "crhmg": _run("bench_crhmg", ["--onnx", root]),
        "audio2exp": _run("bench_audio2exp", ["--onnx", root]),
        "renderer_batch1": _run("bench_renderer", ["--onnx", root]),
        "renderer_batch2": _run("bench_renderer", ["--onnx", root, "--batch", "2"]),
        "runtime": _run("bench_runtime", ["--bundle", root]),
    }
    where = machine()
    markdown = table(results, where)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    sys.stdout.write(json.dumps({"benchmark": "all", "machine": where, **results}) + "\n" if args.json else markdown)
    return 0
