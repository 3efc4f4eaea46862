"""The `eai-avatar` command line.

Subcommands are listed in COMMANDS by module path and imported only when run, so `eai-avatar --help`
stays fast and never imports torch. A command module provides `add_arguments(parser)` and
`run(args) -> int`. Each issue that implements a command adds its line here; nothing is listed before
it works.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from eai_avatar.version import __version__

# name -> (module, one-line help), or for a group: name -> (one-line help, {target: (module, one-line help)})
COMMANDS: dict[str, tuple] = {
    "demo": ("eai_avatar.runtime.commands.demo", "two avatars hold a conversation, written to MP4 (the main job)"),
    "info": ("eai_avatar.commands.info", "show the version, the wire contract and the optional backends installed"),
    "emotion": ("eai_avatar.runtime.commands.emotion", "recognize the emotion of utterances (the paper's C)"),
    "serve": ("eai_avatar.runtime.commands.serve", "the gRPC server: conversations streamed to any client"),
    "tree": ("eai_avatar.runtime.commands.tree", "print a stored conversation's Interactive Talking Tree with Q"),
    "voices": ("eai_avatar.runtime.commands.voices", "the voices installed, their licences, each character's voice"),
    "data": (
        "make and inspect training data",
        {
            "synth": ("eai_avatar.export.commands.data_synth", "the synthetic dyadic dialogue dataset"),
            "sheet": ("eai_avatar.export.commands.data_sheet", "a contact sheet: characters x emotions, mouth shapes"),
            "preview": ("eai_avatar.export.commands.data_preview", "a dataset clip as MP4 with sound"),
            "ingest": ("eai_avatar.export.commands.data_ingest", "a video of a character, in the dataset format"),
            "talk": ("eai_avatar.export.commands.data_talk", "a studio character saying corpus lines, as MP4"),
            "frames": ("eai_avatar.export.commands.data_frames", "renderer examples packed into one .npz"),
            "speech": ("eai_avatar.export.commands.data_speech", "speech from several synthesizers with phone timings"),
            "mask-strip": (
                "eai_avatar.export.commands.data_mask_strip",
                "each character's head over a minute: free CRHMG masks against the runtime's",
            ),
        },
    ),
    "export": ("eai_avatar.export.commands.export_models", "trained models to an engine bundle (ONNX, fp16, int8)"),
    "triton": (
        "serve a bundle's models from NVIDIA Triton",
        {
            "serve": (
                "eai_avatar.runtime.commands.triton_serve",
                "a bundle's ONNX files on PyTriton's tritonserver (CPU, onnxruntime)",
            ),
        },
    ),
    "bundle": (
        "inspect and update engine bundles",
        {
            "verify": ("eai_avatar.runtime.commands.bundle_verify", "check a bundle's files, hashes and shapes"),
            "replace-audio2exp": ("eai_avatar.export.commands.bundle_replace", "a retrained Audio2Exp into a bundle"),
            "replace-renderer": (
                "eai_avatar.export.commands.bundle_replace_renderer",
                "a retrained renderer student into a bundle",
            ),
        },
    ),
    "train": (
        "train a model of the project",
        {
            "emotion": ("eai_avatar.export.commands.train_emotion", "the emotion recognizer's head (eqs. 8-9)"),
            "crhmg": ("eai_avatar.export.commands.train_crhmg", "the head-mask generator CRHMG (section 3.1)"),
            "audio2exp": ("eai_avatar.export.commands.train_audio2exp", "speech + emotion -> face (section 3.3)"),
            "renderer": ("eai_avatar.export.commands.train_renderer", "the one-step renderer: mask + E_t -> frame"),
            "renderer-teacher": (
                "eai_avatar.export.commands.train_renderer_teacher",
                "the ControlNet diffusion teacher (section 3.5)",
            ),  # fmt: skip
        },
    ),
    "eval": (
        "measure a model's quality on held-out data",
        {
            "all": ("eai_avatar.export.commands.eval_all", "every quality table and the ablation (the default)"),
            "emotion": ("eai_avatar.export.commands.eval_emotion", "emotion accuracy and confusion matrix"),
            "ingest": ("eai_avatar.export.commands.eval_ingest", "video ingestion's recovery of blendshapes and poses"),
            "crhmg": ("eai_avatar.export.commands.eval_crhmg", "CRHMG vs a static mask and independent noise"),
            "audio2exp": ("eai_avatar.export.commands.eval_audio2exp", "Audio2Exp's mouth, pauses and emotion"),
            "lipsync": ("eai_avatar.export.commands.eval_lipsync", "Audio2Exp's lip sync per voice vs the viseme path"),
            "renderer": ("eai_avatar.export.commands.eval_renderer", "the renderer's SSIM, PSNR and flicker"),
            "legibility": (
                "eai_avatar.export.commands.eval_legibility",
                "do rendered listener faces show their emotion to an outside face tracker",
            ),
            "asr": ("eai_avatar.runtime.commands.eval_asr", "speech recognition's word error rate, voice by voice"),
        },
    ),
    "bench": (
        "measure speed on this machine",
        {
            "all": ("eai_avatar.runtime.commands.bench_all", "every runtime benchmark, one table (the default)"),
            "emotion": ("eai_avatar.runtime.commands.bench_emotion", "emotion recognition latency per utterance"),
            "crhmg": ("eai_avatar.runtime.commands.bench_crhmg", "CRHMG latency for one second of masks"),
            "audio2exp": ("eai_avatar.runtime.commands.bench_audio2exp", "Audio2Exp time per second of speech"),
            "renderer": ("eai_avatar.runtime.commands.bench_renderer", "renderer frames per second"),
            "renderer-torch": ("eai_avatar.export.commands.bench_renderer_torch", "the renderer in PyTorch on a GPU"),
            "runtime": ("eai_avatar.runtime.commands.bench_runtime", "the server end to end: latency, real time"),
            "scale": (
                "eai_avatar.runtime.commands.bench_scale",
                "live sessions held: in process, batched, on Triton, two replicas, side by side",
            ),
            "conversation": (
                "eai_avatar.runtime.commands.bench_conversation",
                "a person talking to the agent, live: answer latency by stage, barge-in",
            ),
            "asr": ("eai_avatar.runtime.commands.bench_asr", "speech recognition: real-time factor, 3 s latency"),
        },
    ),
}


def _is_group(entry: tuple) -> bool:
    return isinstance(entry[1], dict)


def _chosen(argv: list[str]) -> tuple[str | None, str | None]:
    """The command (and group target) named in argv, found without parsing, so only that module loads."""
    command = next((a for a in argv if a in COMMANDS), None)
    if command is None or not _is_group(COMMANDS[command]):
        return command, None
    rest = argv[argv.index(command) + 1 :]
    return command, next((a for a in rest if a in COMMANDS[command][1]), None)


def build_parser(chosen: tuple[str | None, str | None] = (None, None)) -> argparse.ArgumentParser:
    """The top-level parser; the chosen command's (or group target's) arguments come from its module."""
    parser = argparse.ArgumentParser(
        prog="eai-avatar",
        description="EAI-Avatar: two avatars that talk, listen, switch roles and carry emotion, streamed "
        "over gRPC to game engines and apps.",
    )
    parser.add_argument("--version", action="version", version=f"eai-avatar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, entry in COMMANDS.items():
        if _is_group(entry):
            group_help, targets = entry
            group = sub.add_parser(name, help=group_help, description=group_help)
            target_parsers = group.add_subparsers(dest="target", metavar="TARGET", title="targets", required=True)
            for target, (module_path, summary) in targets.items():
                target_parser = target_parsers.add_parser(target, help=summary, description=summary)
                if chosen == (name, target):
                    importlib.import_module(module_path).add_arguments(target_parser)
        else:
            module_path, summary = entry
            command_parser = sub.add_parser(name, help=summary, description=summary)
            if chosen[0] == name:
                importlib.import_module(module_path).add_arguments(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, target = _chosen(argv)
    if command and target is None and _is_group(COMMANDS[command]) and "all" in COMMANDS[command][1]:
        if not {"-h", "--help"} & set(argv):
            argv.insert(argv.index(command) + 1, "all")  # `eai-avatar bench --json` runs them all
    parser = build_parser(_chosen(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        parser.print_help()
        return 0
    entry = COMMANDS[args.command]
    module_path = entry[1][args.target][0] if _is_group(entry) else entry[0]
    label = f"{args.command} {args.target}" if _is_group(entry) else args.command
    try:
        return int(importlib.import_module(module_path).run(args) or 0)
    except (ValueError, LookupError, OSError, ImportError, RuntimeError) as exc:
        # Errors at the edge (bad input, a port in use, a backend this machine lacks): one clear line and a
        # non-zero exit; the traceback only with --verbose.
        logging.getLogger("eai_avatar").debug("%s failed", label, exc_info=True)
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else exc
        sys.stderr.write(f"eai-avatar {label}: error: {message}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
