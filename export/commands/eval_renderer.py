"""`eai-avatar eval renderer --model DIR --data DIR`: the student's SSIM, PSNR and flicker on held-out clips."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="a folder made by `eai-avatar train renderer`")
    parser.add_argument("--onnx", type=Path, help="instead of --model: score an exported renderer.onnx (any precision)")
    parser.add_argument("--data", type=Path, required=True, help="the dataset whose test split to use")
    parser.add_argument("--split", default="test")
    parser.add_argument("--identity", help="score only this identity's frames (a per-identity teacher's)")
    parser.add_argument("--teacher", type=Path, help="also score a teacher made by `train renderer-teacher`")
    parser.add_argument("--teacher-steps", type=int, default=20, help="DDIM steps for the teacher")
    parser.add_argument("--device", default="cpu", help="where the teacher samples: cpu or cuda")
    parser.add_argument("--lpips-trunk", type=Path, help="AlexNet weights (torchvision state dict) for LPIPS")
    parser.add_argument("--lpips-heads", type=Path, help="LPIPS linear heads (the lpips package's alex.pth)")
    parser.add_argument("--fid-onnx", type=Path, help="an ONNX feature network for FID (see perceptual.py)")
    parser.add_argument("--png", type=Path, help="also write mask | E_t | truth | [teacher |] student, 4 test frames")
    parser.add_argument("--video", type=Path, help="also write a test clip as MP4: control | ground truth | student")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (default: a table)")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.export.renderer.evaluate import evaluate_student, side_by_side
    from eai_avatar.export.renderer.train import load_student

    if bool(args.model) == bool(args.onnx):
        raise ValueError("give either --model (a trained folder) or --onnx (an exported file)")
    if args.onnx:
        from eai_avatar.export.renderer.onnx_quality import evaluate_onnx

        report = evaluate_onnx(args.onnx, args.data, args.split)
        sys.stdout.write(json.dumps(report) + "\n" if args.json else
                         f"{args.onnx} ({report['precision']}) on {report['frames']} {args.split} frames: SSIM "
                         f"{report['ssim']:.4f}, PSNR {report['psnr_db']:.2f} dB\n")  # fmt: skip
        return 0
    model = load_student(args.model)
    teacher = None
    if args.teacher:
        from eai_avatar.export.renderer.teacher import load_teacher

        teacher = load_teacher(args.teacher, args.device)
    lpips, fid_features = None, None
    if bool(args.lpips_trunk) != bool(args.lpips_heads):
        raise ValueError("LPIPS needs both --lpips-trunk and --lpips-heads")
    if args.lpips_trunk:
        from eai_avatar.export.renderer.perceptual import LPIPS

        lpips = LPIPS.from_files(args.lpips_trunk, args.lpips_heads)
    if args.fid_onnx:
        from eai_avatar.export.renderer.perceptual import OnnxFeatures

        fid_features = OnnxFeatures(args.fid_onnx)
    report = evaluate_student(model, args.data, args.split, identity=args.identity, teacher=teacher,
                              teacher_steps=args.teacher_steps, device=args.device, lpips=lpips,
                              fid_features=fid_features)  # fmt: skip
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(_table(report))
    if args.png:
        from PIL import Image

        args.png.parent.mkdir(parents=True, exist_ok=True)
        picture = side_by_side(model, args.data, args.split, identity=args.identity, teacher=teacher,
                               teacher_steps=args.teacher_steps, device=args.device)  # fmt: skip
        Image.fromarray(picture).save(args.png)
        sys.stderr.write(f"wrote {args.png}\n")
    if args.video:
        from eai_avatar.export.renderer.evaluate import clip_video

        sys.stderr.write(f"wrote {args.video}: {clip_video(model, args.data, args.video, args.split)}\n")
    return 0


def _table(report: dict) -> str:
    s, g, t = report["student"], report["ground_truth"], report["teacher"]
    lines = [
        f"renderer on {report['frames']} {report['split']} frames ({report['identity']}) at "
        f"{report['size'][1]}x{report['size'][0]}:",
        f"| model | SSIM | PSNR (dB) | frame-to-frame change (truth: {g['frame_change']:.4f}) | LPIPS | FID |",
        "|---|---|---|---|---|---|",
        f"| student | {s['ssim']:.4f} | {s['psnr_db']:.2f} | {s['frame_change']:.4f} | {_value(s['lpips'])} | "
        f"{_value(s['fid'])} |",
    ]
    if isinstance(t, dict):
        name = f"teacher ({t['image_size']}px, {t['ddim_steps']} DDIM steps, upsampled)"
        scores = f"{t['ssim']:.4f} | {t['psnr_db']:.2f} | {t['frame_change']:.4f}"
        lines.append(f"| {name} | {scores} | {_value(t['lpips'])} | {_value(t['fid'])} |")
        small = report["at_teacher_size"]
        for name in ("teacher", "student"):
            lines.append(f"| {name} at {small['size']}px | {small[name]['ssim']:.4f} | "
                         f"{small[name]['psnr_db']:.2f} | | | |")  # fmt: skip
    else:
        lines.append("| teacher | not measured | not measured | not measured | not measured | not measured |")
    return "\n".join(lines) + "\n"


def _value(number) -> str:
    return f"{number:.4f}" if isinstance(number, float) else str(number)
