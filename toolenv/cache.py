"""Tool-call memo: a ``ToolCache`` port the caller injects, and a stable request key.

The warehouse-backed implementation lives outside this package (toolenv never imports warehouse);
``MemoryToolCache`` is the in-process one for tests and single runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

KEY_VERSION = 1


@dataclass(frozen=True, slots=True)
class CachedResult:
    """A successful tool result as stored: observation text and PNG bytes of the images it attached."""

    text: str
    images: tuple[bytes, ...] = ()
    dropped_by_guard: int = 0


class ToolCache(Protocol):
    """Memo of successful tool calls, keyed by ``request_key``. Errors are never stored."""

    def get(self, key: str) -> CachedResult | None: ...

    def put(self, key: str, result: CachedResult, latency_ms: float, tool: str | None = None) -> None: ...


def request_key(tool: str, args: Mapping[str, object], image_sha256s: Sequence[str], *, context: str = "") -> str:
    """A stable hex key for one tool request.

    Args:
        tool: tool name.
        args: validated arguments as JSON-able values, *without* the image-reference fields (``img_N``
            ids are episode-local; the images are identified by content instead).
        image_sha256s: sha256 of each referenced image, in argument order.
        context: what else determines the result — the backend's fingerprint (index content hash or
            remote endpoint) and, when the leakage guard is on, a hash of the guarded texts.
    """
    payload = {"v": KEY_VERSION, "tool": tool, "args": dict(args), "images": list(image_sha256s), "ctx": context}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class MemoryToolCache:
    """A dict-backed ``ToolCache`` that also records latencies and hit counts."""

    entries: dict[str, tuple[CachedResult, float]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def get(self, key: str) -> CachedResult | None:
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found[0]

    def put(self, key: str, result: CachedResult, latency_ms: float, tool: str | None = None) -> None:
        self.entries[key] = (result, latency_ms)
