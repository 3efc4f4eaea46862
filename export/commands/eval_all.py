"""`eai-avatar eval [all] --data DIR --models DIR [--json] [--markdown FILE]`: every quality table at once.

`--models` holds the trained folders `crhmg/`, `audio2exp/` and `renderer/` (as `eai-avatar train ... --out
models/NAME` makes them); `--data` is the dataset whose test split they are scored on. Runs the emotion, CRHMG,
Audio2Exp and renderer evaluations and the paper-style ablation (w/o CRHMG: a static mask; w/o ITT: every face
neutral; current-node-only emotion) and writes one Markdown report with the machine it ran on.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a dataset made by `eai-avatar data synth`")
    parser.add_argument("--models", type=Path, required=True, help="a folder holding crhmg/, audio2exp/, renderer/")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--json", action="store_true")


def _markdown(report: dict, where: str) -> str:
    e, c, a, r, ab = report["emotion"], report["crhmg"], report["audio2exp"], report["renderer"], report["ablation"]
    s = r["student"]
    lines = [
        f"Quality on held-out data ({where}; `eai-avatar eval --data DIR --models DIR --markdown FILE`):", "",
        "| model | measure | figure |", "|---|---|---|",
        f"| emotion recognizer C | top-1 on {e['lines']} held-out lines | {e['accuracy']:.3f} |",
        f"| CRHMG | temporal-consistency error (static mask: {c['static']['temporal_consistency_error']:.4f}) | "
        f"{c['crhmg']['temporal_consistency_error']:.4f} |",
        f"| CRHMG | SID / Var (ground truth {c['ground_truth']['sid']:.3f} / {c['ground_truth']['var']:.3f}) | "
        f"{c['crhmg']['sid']:.3f} / {c['crhmg']['var']:.3f} |",
        f"| Audio2Exp | jawOpen correlation / jawOpen in pauses | {a['all']['jaw_open_correlation']:.3f} / "
        f"{a['all']['jaw_open_in_pauses_mean']:.4f} |",
        f"| Audio2Exp | emotion recovered from the face | {a['emotion_recovered']:.3f} |",
        f"| renderer (student) | SSIM / PSNR on {r['frames']} frames | {s['ssim']:.3f} / {s['psnr_db']:.1f} dB |",
        "",
        f"Ablation ({ab['turns']} turns of the shipped scripted dialogues for the emotions; CRHMG's held-out mask "
        "sequences for the heads):", "",
        "| variant | speaker face = the line's emotion | listener face = its reply's emotion | face changes per turn "
        "| head temporal-consistency error | head Var |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    head = {"itt": c["crhmg"], "current_node_only": c["crhmg"], "without_itt": c["crhmg"]}
    names = {"itt": "full (CRHMG + ITT)", "current_node_only": "current-node-only emotion",
             "without_itt": "w/o ITT (all neutral)"}  # fmt: skip
    for variant in ("itt", "current_node_only", "without_itt"):
        v, h = ab[variant], head[variant]
        emotion = f"{v['speaker_agreement']:.3f} | {v['listener_agreement']:.3f} | {v['changes_per_turn']:.3f}"
        lines.append(f"| {names[variant]} | {emotion} | {h['temporal_consistency_error']:.4f} | {h['var']:.3f} |")
    full = ab["itt"]
    lines.append(f"| w/o CRHMG (static mask) | {full['speaker_agreement']:.3f} | {full['listener_agreement']:.3f} | "
                 f"{full['changes_per_turn']:.3f} | {c['static']['temporal_consistency_error']:.4f} | "
                 f"{c['static']['var']:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eai_avatar.export.audio2exp.evaluate import evaluate_audio2exp
    from eai_avatar.export.audio2exp.train import load_audio2exp
    from eai_avatar.export.commands.reporting import write_report
    from eai_avatar.export.crhmg.evaluate import evaluate_crhmg
    from eai_avatar.export.crhmg.train import load_crhmg
    from eai_avatar.export.emotion.evaluate import HELDOUT_PATH, evaluate, load_labelled_tsv
    from eai_avatar.export.renderer.evaluate import evaluate_student
    from eai_avatar.export.renderer.train import load_student
    from eai_avatar.runtime.commands.benchmarking import machine
    from eai_avatar.runtime.emotion import EmotionRecognizer
    from eai_avatar.runtime.itt.ablation import ablate

    for name in ("crhmg", "audio2exp", "renderer"):
        if not (args.models / name).is_dir():
            raise FileNotFoundError(f"{args.models / name} is missing (train it: eai-avatar train {name} --out "
                                    f"{args.models / name})")  # fmt: skip
    steps = tqdm(total=5, desc="evaluations", unit="table")
    recognizer = EmotionRecognizer()
    texts, labels = load_labelled_tsv(HELDOUT_PATH)
    report = {"emotion": evaluate(recognizer, texts, labels)}
    steps.update(1)
    report["crhmg"] = evaluate_crhmg(load_crhmg(args.models / "crhmg"), args.data)
    steps.update(1)
    report["audio2exp"] = evaluate_audio2exp(load_audio2exp(args.models / "audio2exp"), args.data)
    steps.update(1)
    report["renderer"] = evaluate_student(load_student(args.models / "renderer"), args.data)
    steps.update(1)
    report["ablation"] = ablate(recognizer.recognize)
    steps.update(1)
    steps.close()
    where = machine()
    markdown = _markdown(report, where)
    write_report({"machine": where, **report}, markdown, args.markdown, args.json)
    return 0
