"""What a finished flow run shows in the Prefect UI, built from the warehouse: the funnel (named query
``funnel``), rejects by stage and reason (``rejects_by_reason``) and the newest export (its folder and a
summary of its dataset card). ``tasks/runs/steps.py`` publishes them as artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse.db import run_query, snapshot
from warehouse.items import latest_export, latest_export_counts

CARD_CHARS = 20_000          # the markdown artifact keeps the card's head; the whole card is in the export folder


@dataclass(frozen=True, slots=True)
class ExportSummary:
    name: str
    folder: str              # as the data dir was given (relative by default), never a home path
    markdown: str


@dataclass(frozen=True, slots=True)
class RunArtifacts:
    funnel: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    export: ExportSummary | None


def _records(cols: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(cols, r, strict=True)) for r in rows]


def card_summary(name: str, card: str, counts: str) -> str:
    """Markdown for the export artifact: the counts, then the card without its YAML front matter."""
    body = card
    if body.startswith("---"):
        end = body.find("\n---", 3)
        body = body[end + 4:] if end != -1 else body
    body = body.strip()
    if len(body) > CARD_CHARS:
        body = body[:CARD_CHARS].rsplit("\n", 1)[0] + "\n\n… (the full card is README.md in the export folder)"
    return f"# Export `{name}`\n\n{counts}\n\n{body}\n"


def collect(data_dir: Path) -> RunArtifacts:
    """Read the artifacts' content from the warehouse under ``data_dir`` (read-only snapshot)."""
    with snapshot(data_dir / "warehouse.duckdb") as con:
        funnel = _records(*run_query(con, "funnel"))
        rejects = _records(*run_query(con, "rejects_by_reason"))
        latest = latest_export(con)
        row = latest_export_counts(con)
    export = None
    if latest is not None and row is not None:
        name = latest[0]
        folder = data_dir / "export" / name
        card_file = folder / "README.md"
        card = card_file.read_text(encoding="utf-8") if card_file.is_file() else ""
        counts = f"SFT rows: {row[0]} · RL train: {row[1]} · RL validation: {row[2]} · folder: `{folder}`"
        export = ExportSummary(name, str(folder), card_summary(name, card, counts))
    return RunArtifacts(funnel, rejects, export)
