"""A local media folder beside an XML dump: ``images.jsonl`` names each file as pages reference it,
its local path and its licence (the offline stand-in for Wikimedia Commons).

Each line: ``{"file_name": "Flag of Algeria.svg", "path": "flag_of_algeria.png", "license": "Public
domain", "license_url": …, "author": …, "source_url": …, "description": …}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from schemas.errors import SourceError
from schemas.pages import ImageBlob, ImageMeta, PageReject
from tasks.ingest.wikitext import printable_title

MANIFEST = "images.jsonl"


def read_media_dir(media_dir: Path, wiki: str, *, batch: int = 64, max_bytes: int = 50_000_000
                   ) -> Iterator[list[ImageBlob | PageReject]]:
    """Yield image bytes with their licence metadata; a missing, unsafe or oversized file (checked with
    ``stat`` before anything is read), and a manifest line that is not a JSON object with ``file_name``
    and ``path``, are reject rows (the other lines go on).

    Raises:
        SourceError: the manifest is missing.
    """
    manifest = media_dir / MANIFEST
    if not manifest.exists():
        raise SourceError(f"{media_dir}: no {MANIFEST} manifest")
    out: list[ImageBlob | PageReject] = []
    root = media_dir.resolve()
    for lineno, line in enumerate(manifest.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            name, rel = str(row["file_name"]), str(row["path"])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            out.append(PageReject(wiki, f"{MANIFEST}:{lineno}", "bad_manifest_line",
                                  f"not a JSON object with file_name and path ({type(err).__name__}: {err})"[:300]))
            continue
        local = (media_dir / rel.replace("\x00", "")).resolve()
        unit = f"File:{printable_title(name)}"
        if "\x00" in rel:
            out.append(PageReject(wiki, unit, "bad_path", f"{printable_title(rel)!r} contains a NUL byte"))
        elif not local.is_relative_to(root):
            out.append(PageReject(wiki, unit, "path_traversal", f"{printable_title(rel)!r} escapes {media_dir}"))
        elif not local.is_file():
            out.append(PageReject(wiki, unit, "missing_file", f"{printable_title(rel)!r} not found in {media_dir}"))
        elif (size := local.stat().st_size) > max_bytes:
            out.append(PageReject(wiki, unit, "too_large", f"{size} bytes > ingest.max_image_bytes {max_bytes}"))
        else:
            meta = ImageMeta(name, row.get("license"), row.get("license_url"), row.get("author"),
                             row.get("source_url"), row.get("description"))
            out.append(ImageBlob(wiki, meta, local.read_bytes()))
        if len(out) >= batch:
            yield out
            out = []
    if out:
        yield out
