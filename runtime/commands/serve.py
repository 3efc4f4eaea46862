"""`eai-avatar serve`: the gRPC server that holds conversations and streams the avatars (Ctrl-C stops it)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=50051, help="TCP port (0: any free one, printed)")
    parser.add_argument("--bundle", type=Path, help="engine bundle folder (default: the one that ships)")
    parser.add_argument("--db", type=Path, help="conversation store (default $EAI_AVATAR_DB or ~/.local/share/...)")
    parser.add_argument("--token", help="require `authorization: Bearer TOKEN` (default: $EAI_AVATAR_TOKEN if set)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    parser.add_argument("--publish", help="mirror frames, audio and events on a ZeroMQ PUB socket, e.g. "
                        "tcp://127.0.0.1:5556 or ipc:///tmp/eai-avatar")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2, help="model threads (onnxruntime and workers)")


async def _serve(args: argparse.Namespace) -> None:
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.service.sessions import SessionManager
    from eai_avatar.runtime.store import SqliteStore
    from eai_avatar.runtime.store.base import default_db_path

    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    tls = (args.tls_cert.read_bytes(), args.tls_key.read_bytes()) if args.tls_cert else None
    bundle = Bundle(args.bundle or default_bundle_path())  # refuses a damaged bundle before anything listens
    store = SqliteStore(args.db or default_db_path())
    publisher = None
    if args.publish:
        from eai_avatar.runtime.publisher import FramePublisher

        publisher = FramePublisher(args.publish)
    manager = SessionManager(Models(bundle, threads=args.threads), store)
    servicer = AvatarServicer(manager=manager, workers=args.threads, publisher=publisher)
    token = args.token or os.environ.get("EAI_AVATAR_TOKEN") or None
    server, port = await create_server(f"{args.host}:{args.port}", servicer, token=token, tls=tls)
    await server.start()
    sys.stdout.write(f"eai-avatar serving on {args.host}:{port} (bundle {bundle.root}, store {store.path}"
                     f"{', TLS' if tls else ''}{', token auth' if token else ''})\n")  # fmt: skip
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(grace=2)
    store.close()
    if publisher is not None:
        publisher.close()


def run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(args))
    return 0
