"""How the evaluation commands hand back a report: Markdown to a file when asked, JSON or Markdown on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_report(report: dict, markdown: str, markdown_path: Path | None, as_json: bool) -> None:
    """`markdown` into `markdown_path` (folders made) if given; stdout gets the report as one JSON line with
    `as_json`, else the Markdown."""
    if markdown_path:
        markdown_path.parent.mkdir(parents=True, exist_ok=True)
        markdown_path.write_text(markdown, encoding="utf-8")
    sys.stdout.write(json.dumps(report, default=float) + "\n" if as_json else markdown)
