"""Ingest one source into the warehouse: pages, links, aliases, image references and image bytes.

Reads: a source (XML dump (+ media folder), ZIM, live API). Writes: ``pages``, ``links``, ``aliases``,
``image_refs``, ``image_blobs``, ``image_files``, ``rejects`` (stage ``ingest``), ``sources``.
Side effects: image files under ``<data_dir>/images``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from schemas.errors import SourceError
from schemas.pages import ImageBlob, PageRecord, PageReject
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest import images as image_store
from tasks.ingest.media_dir import read_media_dir
from tasks.ingest.wikitext import printable_title, title_problem
from tasks.ingest.xml_dump import dump_date, fingerprint, parse_dump
from warehouse import images as image_repo
from warehouse import pages as page_repo
from warehouse import rejects as reject_repo
from warehouse import sources as source_repo
from warehouse.db import Connection

log = logging.getLogger(__name__)
SourceBatch = list[PageRecord | PageReject | ImageBlob]
STAGE = "ingest"
COMMIT_SECONDS = 10.0     # a slow source (the live API) still commits its progress this often


@dataclass
class IngestResult:
    source_id: str
    uri: str
    pages: int = 0
    images: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    unchanged: bool = False          # skipped: same file content, settings and ingest code as a completed ingest


def source_identity(cfg: SourceConfig) -> tuple[str, str]:
    """``(source_id, uri)``: content fingerprint for files, hash of the title list for the live API."""
    if cfg.kind == "live":
        key = hashlib.sha256("\n".join([cfg.api_url, *cfg.titles]).encode()).hexdigest()[:24]
        return f"live:{key}", cfg.api_url
    assert cfg.path is not None  # guaranteed by SourceConfig validation
    if not cfg.path.is_file():
        raise SourceError(f"source file not found: {cfg.path}")
    return f"{cfg.kind}:{fingerprint(cfg.path)}", str(cfg.path)


def ingest_key(cfg: SourceConfig, ingest_cfg: IngestConfig) -> str | None:
    """What besides the file's content (the source id) shapes a file source's rows: the source settings, the
    image limits, the media folder (``images.jsonl`` and every file's name and size) and the ingest code
    itself. None for the live API, which is always read again."""
    if cfg.kind == "live":
        return None
    h = hashlib.sha256(cfg.model_dump_json(exclude={"path", "media_dir"}).encode())
    h.update(f"{ingest_cfg.max_image_bytes}:{ingest_cfg.max_image_pixels}".encode())
    for code in sorted(Path(__file__).parent.glob("*.py")):
        h.update(code.read_bytes())
    if cfg.media_dir is not None and cfg.media_dir.is_dir():
        for f in sorted(cfg.media_dir.iterdir()):
            h.update(f"{f.name}:{f.stat().st_size}".encode())
            if f.suffix == ".jsonl":
                h.update(f.read_bytes())
    return h.hexdigest()[:24]


def _xml_batches(cfg: SourceConfig, workers: int, batch_pages: int, max_image_bytes: int) -> Iterator[SourceBatch]:
    assert cfg.path is not None
    wiki = "enwiki"
    for batch_wiki, batch in parse_dump(cfg.path, workers=workers, batch_pages=batch_pages):
        wiki = batch_wiki
        yield list(batch)
    if cfg.media_dir is not None:
        for blobs in read_media_dir(cfg.media_dir, wiki, max_bytes=max_image_bytes):
            yield list(blobs)


def open_source(cfg: SourceConfig, *, workers: int, batch_pages: int,
                max_image_bytes: int = 50_000_000) -> Iterator[SourceBatch]:
    """Batches of records from any source kind, in source order."""
    if cfg.kind == "xml":
        return _xml_batches(cfg, workers, batch_pages, max_image_bytes)
    if cfg.kind == "zim":
        from tasks.ingest.zim import read_zim

        assert cfg.path is not None
        return read_zim(cfg.path, batch_pages=batch_pages)
    from tasks.ingest.live import read_live

    return read_live(cfg, batch_pages=batch_pages)


def store_blob(con: Connection, data_dir: Path, blob: ImageBlob, cfg: IngestConfig, run_id: str, *,
               stage: str = STAGE) -> str | None:
    """Check, store and register one image; returns a reject reason (recorded under ``stage``) or None.

    The file name is only a key (bytes are stored under their hash), but a name no wiki could have
    (control characters, ``/``, ``..``) is a reject too, so it never reaches a row or a shard."""
    name_problem = image_store.file_name_problem(blob.meta.file_name)
    checked = image_store.ImageProblem("invalid_file_name", name_problem) if name_problem else \
        image_store.inspect_image(blob.data, max_bytes=cfg.max_image_bytes, max_pixels=cfg.max_image_pixels)
    if isinstance(checked, image_store.ImageProblem):
        reject_repo.upsert_rejects(con, stage, run_id, [(f"{blob.wiki}:File:{printable_title(blob.meta.file_name)}",
                                                     checked.reason, checked.detail)])
        return checked.reason
    image_store.store_image(data_dir, checked, blob.data)
    m = blob.meta
    image_repo.upsert_image(con, wiki=blob.wiki, file_name=m.file_name, sha256=checked.sha256,
                            fmt=checked.format, width=checked.width, height=checked.height,
                            size_bytes=checked.size_bytes, path=checked.relpath, license=m.license,
                            license_url=m.license_url, author=m.author, source_url=m.source_url,
                            description=m.description)
    return None


def _checked_titles(batch: SourceBatch) -> tuple[list[PageRecord], list[PageReject]]:
    """Split a batch into pages and rejects; a page whose title no wiki could have (control
    characters, lone surrogates, …) from any source kind becomes an ``invalid_title`` reject."""
    pages: list[PageRecord] = []
    bad = [r for r in batch if isinstance(r, PageReject)]
    for rec in batch:
        if isinstance(rec, PageRecord):
            problem = title_problem(rec.title)
            if problem is None:
                pages.append(rec)
            else:
                bad.append(PageReject(rec.wiki, printable_title(rec.title), "invalid_title", problem))
    return pages, bad


def ingest_source(con: Connection, data_dir: Path, cfg: SourceConfig, ingest_cfg: IngestConfig,
                  run_id: str, *, workers: int) -> IngestResult:
    """Stream one source into the warehouse, committing every ``ingest_cfg.commit_pages`` pages (or every
    ``COMMIT_SECONDS``, whichever comes first): a write's fixed cost (a transaction, a key check, the WAL)
    is paid per commit, so committing parse batch by parse batch made the one writer the bottleneck.

    Raises:
        SourceError: the source is unreadable or breaks off; every page read before the fault is
            committed and the ``sources`` row records the error and the last page.
    """
    source_id, uri = source_identity(cfg)
    key = ingest_key(cfg, ingest_cfg)
    done = source_repo.completed_ingest(con, source_id)
    if key is not None and done is not None and done[0] == key:
        log.info("%s unchanged since its last ingest (same content, settings and code): skipped", cfg.kind)
        return IngestResult(source_id, uri, pages=done[1], unchanged=True)
    result = IngestResult(source_id, uri)
    source_repo.upsert_source(con, source_id, cfg.kind, uri, run_id)
    last: str | None = None
    wiki: str | None = None
    pending: list[PageRecord] = []
    since = time.monotonic()

    def commit() -> None:
        nonlocal last, wiki, since
        if pending:
            result.pages += page_repo.upsert_pages(con, pending, source_id)
            last, wiki = pending[-1].title, pending[-1].wiki
            pending.clear()
            source_repo.update_source(con, source_id, status="running", pages_committed=result.pages,
                                      rejects=sum(result.rejects.values()), last_page=last, wiki=wiki)
        since = time.monotonic()

    try:
        for batch in open_source(cfg, workers=workers, batch_pages=ingest_cfg.batch_pages,
                                 max_image_bytes=ingest_cfg.max_image_bytes):
            pages, bad = _checked_titles(batch)
            pending.extend(pages)
            reject_repo.upsert_rejects(con, STAGE, run_id,
                                       [(f"{r.wiki}:{r.title}", r.reason, r.detail) for r in bad])
            result.rejects.update(r.reason for r in bad)
            for blob in (r for r in batch if isinstance(r, ImageBlob)):
                reason = store_blob(con, data_dir, blob, ingest_cfg, run_id)
                if reason:
                    result.rejects[reason] += 1
                else:
                    result.images += 1
            if len(pending) >= ingest_cfg.commit_pages or time.monotonic() - since >= COMMIT_SECONDS:
                commit()
    except SourceError as err:
        commit()              # every page read before the fault is committed too
        source_repo.update_source(con, source_id, status="failed", pages_committed=result.pages,
                                  rejects=sum(result.rejects.values()), last_page=last, error=str(err))
        raise
    commit()
    source_repo.update_source(con, source_id, status="completed", pages_committed=result.pages,
                              rejects=sum(result.rejects.values()), last_page=last, wiki=wiki,
                              dump_date=dump_date(cfg.path) if cfg.path else None)
    source_repo.set_ingest_key(con, source_id, key)
    log.info("ingested %s: %d pages, %d images, rejects %s", uri, result.pages, result.images,
             dict(result.rejects))
    return result
