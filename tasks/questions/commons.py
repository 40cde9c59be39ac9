"""Online extra anchor-image candidates: Commons search by the anchor's title (PAPER.md §4, K=8).

Off by default (``questions.commons_api_url`` unset): the offline run uses the anchor page's own
images only. When set, before an anchor is grounded its title is searched once in Commons' File
namespace; raster hits are downloaded through the same safe-decode and content-addressed store as
ingest, registered with their licence metadata, and listed in ``image_refs`` with ``role = 'commons'``
after the page's own images (ordinal 1000+), so they fill the remaining candidate slots. Each
search happens once per anchor: results are kept, an empty search is a ``commons_no_results`` reject
that is not retried, and a failed search is a ``commons_search_failed`` reject that the next run
retries. Rejected files (too large, SVG, corrupt) are rejects of the ``questions`` stage.

Reads: ``image_refs``, ``rejects``. Writes: ``image_blobs``, ``image_files``, ``image_refs``,
``rejects`` (stage ``questions``). Side effects: HTTP to Commons; image files under ``data_dir``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from schemas.errors import SourceError
from schemas.pages import ImageBlob
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import store_blob
from tasks.ingest.live import RetryPolicy, search_commons
from warehouse import images as image_repo
from warehouse import rejects as reject_repo
from warehouse.db import Connection

log = logging.getLogger(__name__)
STAGE = "questions"
ROLE = "commons"
FIRST_ORDINAL = 1000


def commons_unit(wiki: str, title: str) -> str:
    return f"{wiki}:commons:{title}"


def add_commons_candidates(con: Connection, data_dir: Path, api_url: str, wiki: str, title: str, limit: int,
                           run_id: str, *, ingest_cfg: IngestConfig, policy: RetryPolicy | None = None) -> str:
    """Search Commons for ``title`` once and register the hits as candidates of that page.

    Returns the outcome: ``cached`` (searched before), ``added`` (>= 1 file registered),
    ``no_results`` or ``failed`` (each also a reject row).
    """
    unit = commons_unit(wiki, title)
    searched_empty = reject_repo.reject_reason(con, STAGE, unit) == "commons_no_results"
    if searched_empty or image_repo.has_refs(con, wiki, title, ROLE):
        return "cached"
    source = SourceConfig(kind="live", titles=[title], api_url=api_url, commons_api_url=api_url,
                          language=wiki.removesuffix("wiki") or "en")
    try:
        found = search_commons(source, title, limit, policy=policy)
    except SourceError as err:
        log.warning("questions: %s", err)
        reject_repo.upsert_rejects(con, STAGE, run_id, [(unit, "commons_search_failed", str(err)[:300])])
        return "failed"
    refs: list[tuple[str, str | None]] = []
    file_rejects: list[tuple[str, str, str]] = []
    for hit in found:
        if not isinstance(hit, ImageBlob):
            file_rejects.append((f"{wiki}:{hit.title}", hit.reason, hit.detail))
            continue
        blob = ImageBlob(wiki, hit.meta, hit.data)
        if store_blob(con, data_dir, blob, ingest_cfg, run_id, stage=STAGE) is None:
            refs.append((hit.meta.file_name, hit.meta.description))
    reject_repo.upsert_rejects(con, STAGE, run_id, file_rejects)
    reject_repo.delete_reject(con, STAGE, unit)
    if not refs:
        reject_repo.upsert_rejects(con, STAGE, run_id, [(unit, "commons_no_results",
                                                         f"{len(found)} hits, none usable")])
        return "no_results"
    image_repo.replace_refs(con, wiki, title, ROLE, FIRST_ORDINAL, refs)
    return "added"
