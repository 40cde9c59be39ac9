"""The ``llm_calls`` memo: completed model calls by request hash (errors kept, never served).

Two writers share the table: the question stage's synchronous ``ChatClient`` (``get``/``put``) and the
asynchronous teacher client (``lookup``/``record_many`` with full ``CallRow`` values). Both upsert on
``request_hash``, so a completed call replaces the error row of an earlier run.

Speed (DuckDB's per-statement overhead dominates single-row writes): ``record_many`` writes a whole
group as one Arrow-backed statement; rows with new keys take a plain ``INSERT`` (about a third of the
cost of ``INSERT OR REPLACE``), only keys that already have a row (an earlier error) are upserted; and
the table's keys are read once into sets, so a miss (every call of a fresh run) costs no query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from schemas.llm import MemoEntry
from schemas.teacher import CallRow
from warehouse.db import Connection

_COLUMNS = [f.name for f in fields(CallRow)]
_SCHEMA = pa.schema([
    ("request_hash", pa.string()), ("model", pa.string()), ("purpose", pa.string()), ("template", pa.string()),
    ("template_hash", pa.string()), ("response", pa.string()), ("finish_reason", pa.string()),
    ("error_reason", pa.string()), ("error", pa.string()), ("prompt_tokens", pa.int32()),
    ("completion_tokens", pa.int32()), ("latency_ms", pa.float64()), ("cost_usd", pa.float64()),
    ("attempts", pa.int32()), ("run_id", pa.string()), ("created_at", pa.timestamp("us")),
])
_INSERT = (
    "INSERT INTO llm_calls (request_hash, model, purpose, template, template_hash, response,"
    " finish_reason, error_reason, error, prompt_tokens, completion_tokens, latency_ms, cost_usd, attempts,"
    " run_id, created_at) SELECT request_hash, model, purpose, template, template_hash, response, finish_reason,"
    " error_reason, error, prompt_tokens, completion_tokens, latency_ms, cost_usd, attempts, run_id, created_at"
    " FROM _llm_call_rows"
)
_UPSERT = (
    "INSERT OR REPLACE INTO llm_calls (request_hash, model, purpose, template, template_hash, response,"
    " finish_reason, error_reason, error, prompt_tokens, completion_tokens, latency_ms, cost_usd, attempts,"
    " run_id, created_at) SELECT request_hash, model, purpose, template, template_hash, response, finish_reason,"
    " error_reason, error, prompt_tokens, completion_tokens, latency_ms, cost_usd, attempts, run_id, created_at"
    " FROM _llm_call_rows"
)
_LOOKUP = (
    "SELECT request_hash, model, purpose, template, template_hash, response, finish_reason, error_reason, error,"
    " prompt_tokens, completion_tokens, latency_ms, cost_usd, attempts, run_id, created_at"
    " FROM llm_calls WHERE request_hash = ? AND error IS NULL"
)
_KEYS = "SELECT request_hash, error IS NULL FROM llm_calls"


def _naive_utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


class WarehouseMemo:
    """``CallMemo`` and ``TeacherMemo`` over an open warehouse connection (the stage's single writer).

    DuckDB connections are not thread-safe, so reads (``lookup``) use ``con`` and writes (``record_many``)
    their own cursor of it: the teacher client looks up on the event loop's thread while its memo writer
    thread writes. Assumes this memo is the table's only writer while it lives.
    """

    def __init__(self, con: Connection) -> None:
        self.con = con
        self._write_con = con.cursor()
        rows = con.execute(_KEYS).fetchall()
        self._known: set[str] = {str(k) for k, _ in rows}       # every key with a row (completed or failed)
        self._completed: set[str] = {str(k) for k, ok in rows if ok}

    def get(self, key: str) -> MemoEntry | None:
        """The completed call under ``key`` (errors are never served), as the question stage reads it."""
        row = self.lookup(key)
        if row is None:
            return None
        return MemoEntry(row.response or "", row.prompt_tokens or 0, row.completion_tokens or 0, row.latency_ms or 0.0)

    def put(self, key: str, model: str, template: str, template_hash: str, entry: MemoEntry | None,
            error: str | None) -> None:
        """Upsert one call of the synchronous client: ``entry`` when it completed, else ``error``."""
        self.record_many([CallRow(
            request_hash=key, model=model, purpose="", template=template, template_hash=template_hash,
            response=entry.text if entry else None, finish_reason=None,
            error_reason=error.split(":", 1)[0] if error else None, error=error,
            prompt_tokens=entry.prompt_tokens if entry else None,
            completion_tokens=entry.completion_tokens if entry else None,
            latency_ms=entry.latency_ms if entry else None, cost_usd=0.0, attempts=0, run_id=None,
            created_at=datetime.now(UTC))])

    def lookup(self, key: str) -> CallRow | None:
        """The completed row under ``key``, or None (no row, or only a failed one)."""
        if key not in self._keys()[1]:
            return None
        rows = self.con.execute(_LOOKUP, [key]).fetchall()
        if not rows:
            return None
        (h, model, purpose, template, thash, response, finish, ereason, error, pt, ct, ms, cost, attempts, run_id,
         created) = rows[0]
        return CallRow(request_hash=str(h), model=str(model), purpose=str(purpose or ""), template=str(template or ""),
                       template_hash=str(thash or ""), response=str(response or ""), finish_reason=finish,
                       error_reason=ereason, error=error, prompt_tokens=int(pt or 0), completion_tokens=int(ct or 0),
                       latency_ms=float(ms or 0.0), cost_usd=float(cost or 0.0), attempts=int(attempts or 0),
                       run_id=run_id, created_at=created)

    def record(self, row: CallRow) -> None:
        """Upsert one call (completed or finally failed) on its request hash."""
        self.record_many([row])

    def record_many(self, rows: Sequence[CallRow]) -> None:
        """Upsert calls: one statement for new keys, one for keys that already have a row (a later row
        for the same hash in ``rows`` wins)."""
        latest = {r.request_hash: r for r in rows}
        if not latest:
            return
        known, completed = self._keys()
        fresh = [r for k, r in latest.items() if k not in known]
        again = [r for k, r in latest.items() if k in known]
        con = self._write_con
        for statement, group in ((_INSERT, fresh), (_UPSERT, again)):
            if group:
                con.register("_llm_call_rows", _arrow(group))
                try:
                    con.execute(statement)
                except duckdb.ConstraintException:  # another writer added one of these keys: upsert them all
                    con.execute(_UPSERT)
                finally:
                    con.unregister("_llm_call_rows")
        known.update(latest)
        completed.update(k for k, r in latest.items() if r.error is None)

    def _keys(self) -> tuple[set[str], set[str]]:
        """``(keys with a row, keys with a completed row)``, read at construction; kept current here."""
        return self._known, self._completed


def _arrow(rows: Sequence[CallRow]) -> pa.Table:
    values = [astuple(r) for r in rows]
    columns = {name: [v[i] for v in values] for i, name in enumerate(_COLUMNS)}
    columns["purpose"] = [p or None for p in columns["purpose"]]
    columns["created_at"] = [_naive_utc(ts) for ts in columns["created_at"]]
    return pa.Table.from_pydict(columns, schema=_SCHEMA)
