"""Generate the Python stubs of the wire contract from `proto/eai_avatar/v1/*.proto`.

The proto package `eai_avatar.v1` becomes the Python package `eai_avatar.v1` (the folder `sdk/v1/`), so
the imports that protoc writes (`from eai_avatar.v1 import common_pb2`) resolve with no rewriting.
setup.py runs this at build time; run it by hand after editing a .proto:

    python proto/generate.py            # writes sdk/v1/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py
    python proto/generate.py --check    # exits 1 if the stubs on disk are missing or stale
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
CONTRACT_DIR = PROTO_ROOT / "eai_avatar" / "v1"
DEFAULT_OUT = PROTO_ROOT.parent / "sdk" / "v1"


def contract_files() -> list[Path]:
    """The .proto files of the contract, sorted so generation is reproducible."""
    files = sorted(CONTRACT_DIR.glob("*.proto"))
    if not files:
        raise FileNotFoundError(f"no .proto files under {CONTRACT_DIR}")
    return files


def generate(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    """Run grpc_tools.protoc over the contract, copy the stubs into `out_dir`; return the files written."""
    try:
        import grpc_tools
        from grpc_tools import protoc
    except ImportError as exc:  # build-system.requires and the dev extra both install it
        raise RuntimeError("grpcio-tools is needed to generate the stubs: pip install grpcio-tools==1.85.1") from exc
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(f) for f in contract_files()],
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on the contract; see the messages above")
        generated = sorted((Path(tmp) / "eai_avatar" / "v1").glob("*_pb2*.py*"))
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for src in generated:
            dst = out_dir / src.name
            if not dst.exists() or not filecmp.cmp(src, dst, shallow=False):
                shutil.copyfile(src, dst)
            else:
                os.utime(dst)  # current: a comment-only edit of a .proto changes no stub, and must not read as stale
            written.append(dst)
    return written


def is_stale(out_dir: Path = DEFAULT_OUT) -> bool:
    """True when a stub is missing or older than a .proto it comes from."""
    stubs = [out_dir / f"{p.stem}_pb2.py" for p in contract_files()]
    if not all(s.exists() for s in stubs):
        return True
    newest_proto = max(p.stat().st_mtime for p in contract_files())
    return any(s.stat().st_mtime < newest_proto for s in stubs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: sdk/v1)")
    parser.add_argument("--check", action="store_true", help="only check that the stubs are up to date")
    args = parser.parse_args(argv)
    if args.check:
        stale = is_stale(args.out)
        print("stubs are stale: run python proto/generate.py" if stale else "stubs are up to date")
        return 1 if stale else 0
    for path in generate(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
