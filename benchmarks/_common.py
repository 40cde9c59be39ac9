"""Shared helpers for benchmark scripts: locating fixtures and printing the result line."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def fixture(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        sys.exit(f"benchmark input not found: {path} (../shared/data must sit beside the repo)")
    return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)


def emit(name: str, unit: str, ours: float, baseline: float, target: float, **extra: object) -> None:
    """Print the result as the last stdout line: one JSON object (ratio oriented higher = better)."""
    ratio = ours / baseline if baseline else float("inf")
    print(json.dumps({"name": name, "unit": unit, "ours": round(ours, 3), "baseline": round(baseline, 3),
                      "ratio": round(ratio, 2), "target": target, "meets": ratio >= target, **extra}))
