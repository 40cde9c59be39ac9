"""The ``llm_calls`` memo: completed model calls by request hash (errors kept, never served)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.llm import MemoEntry
from warehouse.db import Connection


class WarehouseMemo:
    """``CallMemo`` over an open warehouse connection (the stage's single writer)."""

    def __init__(self, con: Connection) -> None:
        self.con = con

    def get(self, key: str) -> MemoEntry | None:
        rows = self.con.execute(
            "SELECT response, prompt_tokens, completion_tokens, latency_ms FROM llm_calls"
            " WHERE request_hash = ? AND error IS NULL", [key]).fetchall()
        if not rows:
            return None
        text, pt, ct, ms = rows[0]
        return MemoEntry(str(text or ""), int(pt or 0), int(ct or 0), float(ms or 0.0))

    def put(self, key: str, model: str, template: str, template_hash: str, entry: MemoEntry | None,
            error: str | None) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, model, template, template_hash, entry.text if entry else None, error,
             entry.prompt_tokens if entry else None, entry.completion_tokens if entry else None,
             entry.latency_ms if entry else None, datetime.now(UTC)])
