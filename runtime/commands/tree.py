"""`eai-avatar tree SESSION_ID [--db PATH|URL] [--json]`: a stored conversation's tree with Q per node."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eai_avatar.runtime.itt import PropagationOptions, propagate
from eai_avatar.runtime.itt.serialization import tree_to_json
from eai_avatar.runtime.store import DEFAULT_SCHEMA, default_db_path, is_postgres_url, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session_id", metavar="SESSION_ID")
    parser.add_argument("--db", metavar="PATH|URL", help="conversation store: a SQLite file or a postgresql:// URL, "
                        f"tables in $EAI_AVATAR_DB_SCHEMA (default: {default_db_path()})")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="the tree as JSON (the v1 proto's fields)")


def render_text(tree, options: PropagationOptions) -> str:
    lines = [f"characters: {', '.join(tree.characters)}; {len(tree)} nodes in {tree.rounds} rounds"]
    for depth in range(1, tree.rounds + 1):
        for node in tree.level(depth):
            q = propagate(tree, node.id, options)
            s = tree.structure(node.id)
            links = " ".join(
                f"{name} {value or '-'}"
                for name, value in (
                    ("parent", s.parent),
                    ("child", s.child),
                    ("ls", s.left_sibling),
                    ("rs", s.right_sibling),
                )
            )
            lines.append(
                f"{'  ' if node.state.value == 'listen' else ''}v{node.id} D={node.depth} {node.state.value:<6} "
                f"{node.character}: psi={node.emotion} P={node.confidence:.2f} -> Q={q.label} ({q.confidence:.2f})  "
                f"[{links}]  {node.text!r}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    location = args.db or str(default_db_path())
    if not is_postgres_url(location) and not Path(location).is_file():
        raise FileNotFoundError(f"no conversation store at {location}")
    with open_store(location, schema=os.environ.get("EAI_AVATAR_DB_SCHEMA") or DEFAULT_SCHEMA) as store:
        record = store.get_session(args.session_id)
        tree = store.load_tree(args.session_id)
    options = PropagationOptions.from_dict(record.metadata.get("propagation", {}))
    if args.json:
        sys.stdout.write(tree_to_json(tree, args.session_id, options) + "\n")
    else:
        sys.stdout.write(render_text(tree, options) + "\n")
    return 0
