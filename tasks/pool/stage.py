"""The pool stage over the warehouse (PAPER.md §5, §12.D): build the decontaminated pool, then degrade
the enhancement subset of whatever survives the difficulty filter.

Order in a run: questions → ``build_pool`` → difficulty filter → ``enhance_pool`` (on the filter's
survivors) → trajectory synthesis / RL export.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from schemas.errors import SourceError
from schemas.pool import Degradation, ExternalSource, PoolConfig, PoolItem, PoolReject
from schemas.run_config import ShardSpec
from tasks.ingest.images import DecodedImage, ImageProblem, inspect_image, store_image
from tasks.pool.decontam import BenchmarkRef, Decontaminator, Fingerprint, fingerprint
from tasks.pool.degrade import degrade, item_rng, select_items
from tasks.pool.paraphrase import tokens
from tasks.pool.sources import LoadedRow, RowReject, load_rows
from warehouse import pool as repo
from warehouse.db import Connection

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Candidate:
    item: PoolItem
    unit: str                         # reject id when dropped as a duplicate (row-based for external rows)
    image: Fingerprint | None
    decoded: DecodedImage | None = None  # external bytes to store when the item is kept
    data: bytes | None = None


def missing_benchmark(bench: ExternalSource) -> str:
    """The one-line error for a declared benchmark whose local copy is not there."""
    fetch = (f"fetch it (Hub dataset {bench.hub_id}) with `python scripts/fetch_benchmarks.py --config <run config> "
             "--data-dir <data dir>` while online" if bench.hub_id else "place the benchmark file there")
    return f"benchmark {bench.name!r}: {bench.path} does not exist; {fetch}, or remove it from pool.decontam.benchmarks"


def benchmark_index(cfg: PoolConfig, models_dir: Path | None = None, data_dir: Path | None = None
                    ) -> tuple[Decontaminator, Counter[str]]:
    """Index every benchmark's questions and images once. Returns the index and ``note:*`` counts.

    ``models_dir``: where the configured embedding model is extracted (``<data_dir>/models``); the model is
    loaded only when benchmarks are configured. ``data_dir``: what ``location: data_dir`` benchmark paths are
    relative to.

    Raises:
        SourceError: a declared benchmark's file is missing (the message names it and how to fetch it)."""
    encoder = None
    if cfg.decontam.embedding is not None and cfg.decontam.benchmarks:
        from tasks.pool.embedding import load_encoder

        encoder = load_encoder(cfg.decontam.embedding, models_dir or Path("models"))
    dec = Decontaminator.empty(cfg.decontam, encoder)
    notes: Counter[str] = Counter()
    for declared in cfg.decontam.benchmarks:
        bench = declared.in_data_dir(data_dir) if data_dir is not None else declared
        if not bench.path.exists():
            raise SourceError(missing_benchmark(bench))
        for row in load_rows(bench, max_image_bytes=cfg.max_image_bytes, max_image_pixels=cfg.max_image_pixels,
                             lenient=True):
            if isinstance(row, RowReject):
                notes[f"note:benchmark_row_skipped:{row.reason}"] += 1
                continue
            ref_id = row.ext_id or f"row{row.row}"
            dec.add_question(BenchmarkRef(bench.name, ref_id, row.question, row.answer or ""))
            if row.image_problem:
                notes["note:benchmark_image_unusable"] += 1
            if row.image_bytes is not None:
                fp = fingerprint(row.image_bytes, crops=cfg.decontam.phash_crops, keep_gray=cfg.decontam.verify_images)
                dec.add_image(BenchmarkRef(bench.name, ref_id, row.image_ref or f"row{row.row} (bytes)"), fp)
                notes[f"note:benchmark_images:{bench.name}"] += 1
            notes[f"note:benchmark_rows:{bench.name}"] += 1
    return dec, notes


def external_item_id(source: str, row: LoadedRow) -> str:
    """``<source>:<16 hex>`` of the row's own id, else of its question, answer and image."""
    key = f"id|{row.ext_id}" if row.ext_id else json.dumps(
        [row.question, row.answer, row.image.sha256 if row.image else row.image_url])
    return f"{source}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _wiki_candidates(con: Connection, base_dir: Path, notes: Counter[str], keep_gray: bool) -> Iterator[_Candidate]:
    for item, relpath in repo.wiki_items(con):
        fp = None
        try:
            fp = fingerprint((base_dir / relpath).read_bytes(), crops=False, keep_gray=keep_gray) if relpath else None
        except (OSError, UnidentifiedImageError) as err:
            log.warning("pool: image of %s unreadable (%s); text check only", item.item_id, err)
            notes["note:image_unreadable"] += 1
        yield _Candidate(item, item.item_id, fp)


def _external_candidates(src: ExternalSource, cfg: PoolConfig, keep_gray: bool) -> Iterator[_Candidate | PoolReject]:
    for row in load_rows(src, max_image_bytes=cfg.max_image_bytes, max_image_pixels=cfg.max_image_pixels):
        unit = f"{src.name}:row{row.row}"
        if isinstance(row, RowReject):
            yield PoolReject(item_id=unit, source=src.name, stage="merge", reason=row.reason,
                             matched_id=row.ext_id, detail=row.detail)
            continue
        item = PoolItem(
            item_id=external_item_id(src.name, row), source=src.name, question=row.question,
            answer=row.answer or "", aliases=row.aliases, image_sha256=row.image.sha256 if row.image else None,
            image_url=row.image_url,
            provenance={"file": str(src.path), "row": row.row, "id": row.ext_id, "image_ref": row.image_ref})
        fp = fingerprint(row.image_bytes, crops=False, keep_gray=keep_gray) if row.image_bytes is not None else None
        yield _Candidate(item, unit, fp, row.image, row.image_bytes)


def _candidates(con: Connection, cfg: PoolConfig, base_dir: Path, notes: Counter[str], keep_gray: bool = False
                ) -> Iterator[_Candidate | PoolReject]:
    if cfg.include_wiki:
        yield from _wiki_candidates(con, base_dir, notes, keep_gray)
    for src in cfg.sources:
        yield from _external_candidates(src, cfg, keep_gray)


def _decontam_reject(c: _Candidate, dec: Decontaminator) -> PoolReject | None:
    m = dec.check(c.item.question, c.image, c.item.answer)
    if m is None:
        return None
    return PoolReject(item_id=c.item.item_id, source=c.item.source, stage="decontam", reason=m.kind,
                      benchmark=m.ref.benchmark, matched_id=m.ref.ref_id, matched_text=m.ref.text,
                      distance=m.distance, detail=m.detail)


def build_pool(con: Connection, cfg: PoolConfig, run_id: str, base_dir: Path, *,
               shard: ShardSpec | None = None) -> dict[str, int]:
    """Merge ``vqa_items`` with the external sources, drop duplicates and benchmark overlaps, persist.

    Wiki items come first (an external row repeating one is the duplicate), then sources in config
    order. A duplicate is the same normalised question with the same image (sha256, or URL).

    Args:
        shard: only the candidates whose duplicate key (normalised question + image) this shard owns
            (``ShardSpec.owns("pool", key)``; rejected source rows by their unit id). Every duplicate of an
            item shares its key, hence its shard, so the shards' pools together are the one-worker pool.
        base_dir: the data dir: wiki images are read from and external images written to
            ``base_dir/images/<sha[:2]>/<sha>.<ext>``. Source paths are used as configured (resolve
            them at config load with ``PoolConfig.resolved``).

    Returns:
        Counts keyed ``outcome:reason``: ``kept:<source>``, ``dropped:merge:<reason>``,
        ``dropped:decontam:<question_overlap|question_paraphrase|question_embedding|image_match>``, and
        ``note:*`` (benchmark rows indexed,
        benchmark rows or images skipped, URL-only items kept, unreadable wiki images).

    Reads: ``vqa_items`` (+ ``all_aliases`` for answer aliases), the wiki image files, the source and
        benchmark files.
    Writes: ``pool_items``, ``pool_rejects`` (replaced as a whole, so a rerun leaves the same rows),
        ``image_blobs`` (external images of kept items).
    Side effects: external images of kept items are written under ``base_dir/images/``.

    Raises:
        ConfigError: a mapped column is missing or a format/split is unknown.
        SourceError: a source or benchmark file is missing or unreadable.
    """
    dec, notes = benchmark_index(cfg, base_dir / "models", base_dir)
    counts: Counter[str] = Counter(notes)
    kept: list[PoolItem] = []
    rejects: list[PoolReject] = []
    blobs: list[repo.BlobRow] = []
    seen_ids: set[str] = set()
    seen_content: dict[tuple[str, str], str] = {}
    for c in dec.prefetched(_candidates(con, cfg, base_dir, counts, dec.keeps_gray)):
        if isinstance(c, PoolReject):
            if shard is not None and not shard.owns("pool", c.item_id):
                continue
            rejects.append(c)
            counts[f"dropped:merge:{c.reason}"] += 1
            continue
        item = c.item
        key = (" ".join(tokens(item.question)), item.image_sha256 or item.image_url or "")
        if shard is not None and not shard.owns("pool", "\n".join(key)):
            continue
        first = seen_content.get(key) or (item.item_id if item.item_id in seen_ids else None)
        if first is not None:
            why = "same question and image as" if key in seen_content else "same id as"
            rejects.append(PoolReject(item_id=c.unit, source=item.source, stage="merge", reason="duplicate",
                                      matched_id=first, detail=f"{why} {first}"))
            counts["dropped:merge:duplicate"] += 1
            continue
        seen_ids.add(item.item_id)
        seen_content[key] = item.item_id
        reject = _decontam_reject(c, dec)
        if reject is not None:
            rejects.append(reject)
            counts[f"dropped:decontam:{reject.reason}"] += 1
            continue
        if c.decoded is not None and c.data is not None:
            d = c.decoded
            store_image(base_dir, d, c.data)
            blobs.append((d.sha256, d.format, d.width, d.height, d.size_bytes, d.relpath))
        if item.image_sha256 is None and item.image_url is not None:
            counts["note:image_url_not_fetched"] += 1
        kept.append(item)
        counts[f"kept:{item.source}"] += 1
    repo.replace_pool(con, run_id, kept, rejects, blobs)
    log.info("pool: %s", dict(counts))
    return dict(counts)


def _load_rgb(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as img:
            return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as err:
        log.warning("pool: cannot read %s for enhancement: %s", path, err)
        return None


def enhance_pool(con: Connection, cfg: PoolConfig, run_id: str, item_ids: Sequence[str],
                 base_dir: Path) -> dict[str, int]:
    """Degrade the enhancement subset of ``item_ids`` (the difficulty filter's survivors) — one kind each.

    Whether an item is in the subset is its own seeded-hash draw (``tasks.pool.degrade.selected``), so any
    batch or shard of the filtered pool may be passed. Ids not in ``pool_items``
    and items with only an image URL are not eligible (counted as ``skipped:*``).

    Returns:
        Counts keyed ``outcome:reason``: ``enhanced:<kind>``, ``kept:not_selected``,
        ``skipped:not_in_pool|no_local_image``, ``failed:unreadable_image``.

    Reads: ``pool_items``, ``image_blobs``, the original image files under ``base_dir``.
    Writes: ``enhancements`` (for ``item_ids``: the chosen items' rows replace earlier ones, the others'
        earlier rows are removed), ``image_blobs`` (the degraded PNGs).
    Side effects: degraded PNGs are written under ``base_dir/images/``.
    """
    ecfg = cfg.enhance
    ids = list(dict.fromkeys(item_ids))
    known = repo.pool_images(con, ids)
    counts: Counter[str] = Counter()
    counts["skipped:not_in_pool"] = sum(i not in known for i in ids)
    eligible = [i for i in ids if i in known and known[i][1] is not None]
    counts["skipped:no_local_image"] = len(known) - len(eligible)
    chosen = select_items(eligible, ecfg.fraction, ecfg.seed)
    counts["kept:not_selected"] = len(eligible) - len(chosen)
    rows: list[Degradation] = []
    blobs: list[repo.BlobRow] = []
    for iid in chosen:
        sha, relpath = known[iid]
        img = _load_rgb(base_dir / str(relpath))
        if img is None or sha is None:
            counts["failed:unreadable_image"] += 1
            continue
        kind, params, out = degrade(img, ecfg, item_rng(ecfg.seed, iid))
        buf = io.BytesIO()
        out.save(buf, "PNG")
        data = buf.getvalue()
        decoded = inspect_image(data, max_bytes=max(cfg.max_image_bytes, len(data)), max_pixels=cfg.max_image_pixels)
        if isinstance(decoded, ImageProblem):     # cannot happen for a PNG we just wrote; kept as a guard
            counts[f"failed:{decoded.reason}"] += 1
            continue
        store_image(base_dir, decoded, data)
        blobs.append((decoded.sha256, decoded.format, decoded.width, decoded.height, decoded.size_bytes,
                      decoded.relpath))
        rows.append(Degradation(item_id=iid, kind=kind, params={**params, "seed": ecfg.seed}, original_sha256=sha,
                                degraded_sha256=decoded.sha256, width=decoded.width, height=decoded.height,
                                size_bytes=decoded.size_bytes))
        counts[f"enhanced:{kind}"] += 1
    repo.replace_enhancements(con, run_id, ids, rows, blobs)
    log.info("pool enhancement: %s", dict(counts))
    return {k: v for k, v in counts.items() if v}

