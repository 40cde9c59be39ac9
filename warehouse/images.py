"""Image metadata: content-addressed blobs and the file names pages use for them."""

from __future__ import annotations

from warehouse.db import Connection


def upsert_image(con: Connection, *, wiki: str, file_name: str, sha256: str, fmt: str, width: int,
                 height: int, size_bytes: int, path: str, license: str | None, license_url: str | None,
                 author: str | None, source_url: str | None, description: str | None) -> None:
    con.execute(
        "INSERT OR IGNORE INTO image_blobs VALUES (?, ?, ?, ?, ?, ?)",
        [sha256, fmt, width, height, size_bytes, path],
    )
    con.execute(
        "INSERT OR REPLACE INTO image_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [wiki, file_name, sha256, license, license_url, author, source_url, description],
    )


def has_refs(con: Connection, wiki: str, title: str, role: str) -> bool:
    """Whether the page already lists images in this role."""
    row = con.execute("SELECT count(*) FROM image_refs WHERE wiki = ? AND title = ? AND role = ?",
                      [wiki, title, role]).fetchone()
    return bool(row and row[0])


def replace_refs(con: Connection, wiki: str, title: str, role: str, first_ordinal: int,
                 refs: list[tuple[str, str | None]]) -> int:
    """Set the page's images in ``role`` to ``(file_name, caption)`` rows numbered from ``first_ordinal``."""
    con.execute("DELETE FROM image_refs WHERE wiki = ? AND title = ? AND role = ?", [wiki, title, role])
    con.executemany("INSERT OR REPLACE INTO image_refs VALUES (?, ?, ?, ?, ?, ?)",
                    [[wiki, title, first_ordinal + i, name, role, caption] for i, (name, caption) in enumerate(refs)])
    return len(refs)
