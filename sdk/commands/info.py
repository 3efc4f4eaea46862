"""`eai-avatar info`: what is installed, for a bug report or a first look."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib import metadata

from eai_avatar import vocabulary
from eai_avatar.import_utils import is_available
from eai_avatar.v1 import SERVICE_NAME
from eai_avatar.version import __version__

# Optional packages worth reporting: import name -> distribution name
OPTIONAL = {
    "onnxruntime": "onnxruntime",
    "tensorrt": "tensorrt",
    "torch": "torch",
    "diffusers": "diffusers",
    "psycopg": "psycopg",  # the PostgreSQL conversation store
    "tritonclient": "tritonclient",  # the Triton engine backend
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def collect() -> dict:
    """The facts `info` reports, as plain data."""
    optional = {}
    for module, dist in OPTIONAL.items():
        if not is_available(module):
            optional[module] = None
            continue
        try:
            optional[module] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # e.g. onnxruntime-gpu provides the onnxruntime module
            optional[module] = "installed"
    return {
        "version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "contract": {"version": vocabulary.CONTRACT_VERSION, "service": SERVICE_NAME},
        "vocabulary": {
            "emotions": list(vocabulary.EMOTIONS),
            "blendshapes": len(vocabulary.ARKIT_BLENDSHAPES),
            "fps": vocabulary.FPS,
            "sample_rate": vocabulary.SAMPLE_RATE,
            "image_size": list(vocabulary.IMAGE_SIZE),
        },
        "grpcio": metadata.version("grpcio"),
        "protobuf": metadata.version("protobuf"),
        "optional": optional,
    }


def run(args: argparse.Namespace) -> int:
    facts = collect()
    if args.json:
        sys.stdout.write(json.dumps(facts) + "\n")
        return 0
    vocab = facts["vocabulary"]
    lines = [
        f"eai-avatar {facts['version']} (Python {facts['python']}, {facts['platform']})",
        f"wire contract {facts['contract']['version']}: {facts['contract']['service']} "
        f"(grpcio {facts['grpcio']}, protobuf {facts['protobuf']})",
        f"emotions: {', '.join(vocab['emotions'])}",
        f"blendshapes: {vocab['blendshapes']} ARKit names; {vocab['fps']} fps; {vocab['sample_rate']} Hz; "
        f"default image {vocab['image_size'][0]}x{vocab['image_size'][1]}",
        "optional backends: "
        + ", ".join(f"{name} {ver or 'not installed'}" for name, ver in facts["optional"].items()),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
