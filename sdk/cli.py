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

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": (
        "eai_avatar.commands.info",
        "show the version, the wire contract and the optional backends installed",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; with `command`, that command's subparser is filled in from its module."""
    parser = argparse.ArgumentParser(
        prog="eai-avatar",
        description="EAI-Avatar: two avatars that talk, listen, switch roles and carry emotion, streamed "
        "over gRPC to game engines and apps.",
    )
    parser.add_argument("--version", action="version", version=f"eai-avatar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_path, summary) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=summary, description=summary)
        if name == command:
            importlib.import_module(module_path).add_arguments(sub_parser)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    return next((a for a in argv if a in COMMANDS), None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_chosen_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except (ValueError, FileNotFoundError, ImportError) as exc:
        # Errors at the edge: a clear one-line message and a non-zero exit, no traceback for bad input.
        sys.stderr.write(f"eai-avatar {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
