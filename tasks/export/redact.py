"""Keep absolute local paths out of what an export publishes (card, manifest, rows).

``redact_paths`` rewrites every absolute path inside a JSON-like value: under the data dir it becomes
``<data_dir>/…``, under the repository it becomes relative to the repository root, anything else
``<local>/<file name>``. ``local_paths`` finds what slipped through (``publish`` refuses such an export).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_ABS = re.compile(r"""(?:(?<=^)|(?<=[\s"'`(=\[<,]))(?:/(?:[\w.+@~-]+/)+[\w.+@~*-]*|[A-Za-z]:\\[^\s"'`]*)""",
                  re.MULTILINE)


def _is_abs(text: str) -> bool:
    return PurePosixPath(text).is_absolute() or PureWindowsPath(text).drive != ""


def redact_path(text: str, data_dir: Path | None = None) -> str:
    """One path string, made relative (see the module docstring); non-absolute text is returned as is."""
    if not _is_abs(text) or "\n" in text or text.startswith("//"):
        return text
    path = Path(text)
    for root, label in ((data_dir, "<data_dir>"), (REPO_ROOT, None)):
        if root is None:
            continue
        try:
            rel = path.resolve().relative_to(root.resolve())
        except (ValueError, OSError):
            continue
        return f"{label}/{rel.as_posix()}" if label else (rel.as_posix() or ".")
    return f"<local>/{path.name}"


def redact_paths(value: Any, data_dir: Path | None = None) -> Any:
    """``value`` (dicts, lists, strings) with every absolute path string redacted, and absolute paths inside
    longer strings too."""
    if isinstance(value, dict):
        return {k: redact_paths(v, data_dir) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_paths(v, data_dir) for v in value]
    if isinstance(value, str):
        if _is_abs(value) and " " not in value:
            return redact_path(value, data_dir)
        return _ABS.sub(lambda m: redact_path(m.group(0), data_dir), value)
    return value


def local_paths(text: str) -> list[str]:
    """Absolute local paths in ``text`` (URLs are not paths: ``https://host/a/b`` does not count)."""
    return [m.group(0) for m in _ABS.finditer(text)]
