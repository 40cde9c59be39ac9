"""What a run changed, stage by stage in pipeline order: new units, units already there, drops.

Compares two ``warehouse.runs.unit_fingerprint`` states (before and after a run). Units are
content-addressed ids, so a stage that rewrote the same rows shows them as unchanged, and a rerun on
unchanged inputs reads "nothing changed".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from warehouse import runs as run_repo
from warehouse.db import snapshot

STAGES = ("ingest", "sample_paths", "questions", "pool", "filter", "enhance", "synthesis", "export")
Fingerprint = Mapping[tuple[str, str], npt.NDArray[np.uint64]]
COLUMNS = ["stage", "new", "unchanged", "dropped", "note"]


@dataclass(frozen=True, slots=True)
class StageChange:
    stage: str
    new: int            # kept units this run added
    unchanged: int      # kept units that were there before
    removed: int        # kept units before the run that are gone (replaced)
    dropped: int        # dropped units now (every reason)
    new_dropped: int    # of those, dropped by this run for the first time (or for a new reason)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.removed or self.new_dropped)

    def row(self) -> tuple[Any, ...]:
        notes = [f"+{self.new_dropped} new drops" if self.new_dropped else "",
                 f"{self.removed} replaced" if self.removed else ""]
        return (self.stage, self.new, self.unchanged, self.dropped, ", ".join(n for n in notes if n))


def fingerprint(warehouse: Path) -> Fingerprint:
    """The warehouse's units by stage and outcome; empty when there is no warehouse yet."""
    if not warehouse.exists():
        return {}
    with snapshot(warehouse) as con:
        return run_repo.unit_fingerprint(con)


def _empty() -> npt.NDArray[np.uint64]:
    return np.zeros(0, dtype=np.uint64)


def compare(before: Fingerprint, after: Fingerprint) -> list[StageChange]:
    """One ``StageChange`` per stage, in pipeline order (stages this code does not know go last)."""
    others = sorted({s for s, _ in [*before, *after]} - set(STAGES))
    out = []
    for stage in [*STAGES, *others]:
        kept_b, kept_a = before.get((stage, "kept"), _empty()), after.get((stage, "kept"), _empty())
        drop_b, drop_a = before.get((stage, "dropped"), _empty()), after.get((stage, "dropped"), _empty())
        unchanged = int(np.isin(kept_a, kept_b).sum())
        out.append(StageChange(stage, new=len(kept_a) - unchanged, unchanged=unchanged,
                               removed=int((~np.isin(kept_b, kept_a)).sum()), dropped=len(drop_a),
                               new_dropped=int((~np.isin(drop_a, drop_b)).sum())))
    return out


def headline(changes: list[StageChange]) -> str:
    """One plain sentence: "nothing changed …" or what did."""
    if not any(c.changed for c in changes):
        return "nothing changed: every stage kept the same units and dropped the same ones as before this run"
    new = sum(c.new for c in changes)
    drops = sum(c.new_dropped for c in changes)
    stages = ", ".join(c.stage for c in changes if c.changed)
    return f"{new} new units and {drops} new drops (stages that changed: {stages})"
