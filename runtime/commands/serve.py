"""`eai-avatar serve`: the gRPC server that holds conversations and streams the avatars (Ctrl-C stops it).

Settings come from `RuntimeConfig` (runtime/config.py): flags here, then $EAI_AVATAR_*, then `--config FILE`,
then the defaults. The token is best given by file or environment: a flag is visible to every user in `ps`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from eai_avatar.runtime.config import ENGINE_BACKENDS, MODELS

logger = logging.getLogger(__name__)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The RuntimeConfig flags `serve` and `bench` share."""
    parser.add_argument("--config", type=Path, help="runtime config file (TOML; default $EAI_AVATAR_CONFIG)")
    parser.add_argument("--bundle", type=Path, help="engine bundle folder (default: the one that ships)")
    parser.add_argument("--engine", action="append", metavar="[MODEL=]BACKEND",
                        help=f"engine backend, for every model or one ({', '.join(MODELS)}); backends: "
                        f"{', '.join(ENGINE_BACKENDS)}. Repeatable, e.g. --engine onnxruntime "
                        "--engine renderer=tensorrt")  # fmt: skip
    parser.add_argument("--triton-url", metavar="HOST:PORT", help="the Triton server of the models with engine "
                        "triton (default $EAI_AVATAR_TRITON_URL, else 127.0.0.1:8001)")  # fmt: skip
    parser.add_argument("--threads", type=int, help="model threads (onnxruntime and workers; default 2)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, help="TCP port (default 50051; 0: any free one, printed)")
    parser.add_argument("--db", metavar="PATH|URL", help="conversation store: a SQLite file or a postgresql:// URL "
                        "(default $EAI_AVATAR_DB or ~/.local/share/...)")  # fmt: skip
    parser.add_argument("--token-file", type=Path, help="require `authorization: Bearer TOKEN`, the token read from "
                        "this file (or set $EAI_AVATAR_TOKEN)")  # fmt: skip
    parser.add_argument("--token", help="the token itself (visible in `ps`: prefer --token-file or the environment)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    parser.add_argument("--replica-id", help="this server's name in session leases, when several serve one "
                        "PostgreSQL store (default $EAI_AVATAR_REPLICA_ID, else the host's name)")  # fmt: skip
    parser.add_argument("--publish", help="mirror frames, audio and events on a ZeroMQ PUB socket, e.g. "
                        "tcp://127.0.0.1:5556 or ipc:///tmp/eai-avatar")  # fmt: skip
    parser.add_argument("--livelink", metavar="HOST:PORT", help="send every avatar's blendshapes and head rotation "
                        "to Unreal as Live Link Face UDP packets, one subject per identity (port 11111 is "
                        "Unreal's default), e.g. 127.0.0.1:11111")  # fmt: skip
    parser.add_argument("--web", metavar="HOST:PORT", help="serve a page that shows both avatars live over "
                        "WebRTC, with a text box and a microphone for you, e.g. 127.0.0.1:8080 "
                        "(the web extra)")  # fmt: skip


def engine_overrides(values: list[str] | None) -> dict[str, str]:
    """--engine BACKEND / --engine MODEL=BACKEND as RuntimeConfig overrides."""
    overrides = {}
    for value in values or ():
        model, sep, backend = value.rpartition("=")
        for name in (model,) if sep else MODELS:
            overrides[f"engines.{name}"] = backend
    return overrides


def load_config(args: argparse.Namespace, **extra):
    from eai_avatar.runtime.config import RuntimeConfig

    overrides = {"bundle": str(args.bundle) if args.bundle else None, "threads": args.threads,
                 "triton.url": args.triton_url, **engine_overrides(args.engine), **extra}  # fmt: skip
    return RuntimeConfig.load(args.config, overrides=overrides)


async def _serve(args: argparse.Namespace) -> None:
    from eai_avatar.runtime.bundle import Bundle, default_bundle_path
    from eai_avatar.runtime.memory import return_large_blocks_to_the_system
    from eai_avatar.runtime.pipeline import Models
    from eai_avatar.runtime.server import AvatarServicer, create_server
    from eai_avatar.runtime.sessions import SessionManager

    return_large_blocks_to_the_system()  # before the models load: see runtime/memory.py
    if args.token is not None and not args.token.strip():
        raise ValueError("--token is empty; an empty token would turn authentication off (leave it out for none)")
    config = load_config(args, **{"server.host": args.host, "server.port": args.port,
                                  "store.path": args.db or None, "server.token": args.token,
                                  "server.token_file": str(args.token_file) if args.token_file else None,
                                  "server.tls_cert": str(args.tls_cert) if args.tls_cert else None,
                                  "server.tls_key": str(args.tls_key) if args.tls_key else None,
                                  "server.publish": args.publish, "server.replica_id": args.replica_id,
                                  "server.livelink": args.livelink, "server.web": args.web})  # fmt: skip
    server_config = config.server
    if server_config.web:
        from eai_avatar.runtime.outputs.web import require_web

        require_web()  # before the models load: a missing extra is said at once
    tls = None
    if server_config.tls_cert:
        tls = (Path(server_config.tls_cert).read_bytes(), Path(server_config.tls_key).read_bytes())
    bundle = Bundle(config.bundle or default_bundle_path())  # refuses a damaged bundle before anything listens
    store = config.open_store()  # an unreachable database is refused here, by its URL, before anything listens
    mirrors, publisher = [], None
    if server_config.publish:
        from eai_avatar.runtime.outputs.zmq import FramePublisher, PublisherOutput

        publisher = FramePublisher(server_config.publish)
        mirrors.append(PublisherOutput(publisher))
    livelink = None
    if server_config.livelink:
        from eai_avatar.runtime.outputs.livelink import LiveLinkOutput

        livelink = LiveLinkOutput(server_config.livelink, server_config.livelink_device)
        mirrors.append(livelink)
    models = Models(bundle, config)
    manager = SessionManager(models, store, config)
    servicer = AvatarServicer(manager=manager, workers=config.threads, mirrors=mirrors)
    server, port = await create_server(f"{server_config.host}:{server_config.port}", servicer,
                                       token=server_config.token, tls=tls,
                                       max_message_bytes=config.limits.message_bytes)  # fmt: skip
    await server.start()
    web = None
    if server_config.web:
        from eai_avatar.runtime.outputs.web import WebServer

        web = WebServer(manager, servicer.executor, mirrors)
        web_port = await web.start(server_config.web)
    engines = ", ".join(sorted(set(config.engines.values())))
    extras = (", TLS" if tls else "") + (", token auth" if server_config.token else "")
    extras += f", Live Link to {server_config.livelink}" if livelink else ""
    if web is not None:
        web_host = server_config.web.rpartition(":")[0]
        extras += f", web page at http://{web_host}:{web_port}/"
    sys.stdout.write(f"eai-avatar serving on {server_config.host}:{port} (bundle {bundle.root}, "
                     f"store {store.location}, replica {manager.replica_id}, engines {engines}{extras})\n")  # fmt: skip
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if web is not None:
        await web.stop()
    await servicer.stop_streams("server stopping")
    await server.stop(grace=2)
    models.close()
    store.close()
    if publisher is not None:
        publisher.close()
    if livelink is not None:
        livelink.close()


def run(args: argparse.Namespace) -> int:
    asyncio.run(_serve(args))
    return 0
