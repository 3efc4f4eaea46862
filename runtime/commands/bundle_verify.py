"""`eai-avatar bundle verify DIR`: the checks the runtime makes when it loads a bundle, alone; non-zero on failure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, nargs="?", help="the bundle folder (default: the one that ships)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from eai_avatar.runtime.bundle import check_bundle, default_bundle_path, read_manifest

    root = args.bundle or default_bundle_path()
    problems = check_bundle(root)
    summary = {"bundle": str(root), "ok": not problems, "problems": problems}
    if not problems:
        manifest = read_manifest(root)
        summary["models"] = {name: {"precision": m["precision"], "bytes": m["bytes"]}
                             for name, m in manifest["models"].items()}  # fmt: skip
        summary["identities"] = list(manifest["identities"])
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    elif problems:
        sys.stdout.write(f"{root}: REFUSED\n" + "".join(f"  - {p}\n" for p in problems))
    else:
        models = ", ".join(f"{n} ({m['precision']}, {m['bytes'] / 2**20:.1f} MB)" for n, m in summary["models"].items())
        sys.stdout.write(f"{root}: OK\n  models: {models}\n  identities: {', '.join(summary['identities'])}\n")
    return 0 if not problems else 1
