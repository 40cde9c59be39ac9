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
