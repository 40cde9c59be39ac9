"""Export throughput: warehouse → validated SFT/RL rows → parquet shards with the images embedded.

Input: the real main job on the bundled corpus (``searchvl run`` on ``flows/configs/demo.yaml`` in a temporary
data dir), whose accepted trajectories and RL items are then replicated ``--copies`` times in the warehouse
under new ids (same turns and the same real image bytes, so every row embeds its images as on a real run).

Ours: ``tasks.export.stage.export_dataset``: candidates and provenance read in bulk, rows validated
against ``schemas/shards.py`` and converted straight to Arrow with the ``datasets`` feature schema, shards
written with pyarrow (zstd), plus the card, plots and manifest.
Baseline (the obvious implementation): the same stage with its shard writer swapped for datasets' own path:
each config/split's validated rows collected in memory and written with
``datasets.Dataset.from_list(rows, features=...).to_parquet(...)`` (one file per split, snappy). Everything
else (queries, validation, provenance, card, manifest, export rows) is the same code, so the ratio isolates
the writer. Both folders are read back with ``load_dataset`` (images decoded) before the numbers print.

Prints rows/s (SFT + RL rows) for both and the ratio (target ≥ 1.0: streaming bounded shards straight to
Arrow must cost nothing over datasets' writer), with the parquet sizes and peak memory.
Usage: python -m benchmarks.export [--copies 100]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, load_dataset
from PIL import Image

from benchmarks._common import emit, peak_rss_mb
from schemas.run_config import load_run_config
from schemas.shards import RlRow, SftRow
from tasks.export.shards import WrittenShard, features, write_shards
from tasks.export.stage import ExportResult, export_dataset
from tasks.filter.stage import filter_hash
from tasks.synthesize.stage import synthesis_hash
from warehouse.db import Connection, connect

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "flows" / "configs" / "demo.yaml"

REPLICATE = [
    # (table, key column(s) to suffix, extra WHERE)
    ("pool_items", ["item_id"], ""),
    ("question_items", ["item_id"], "WHERE status = 'accepted'"),
    ("gate_verdicts", ["item_id"], ""),
    ("filter_outcomes", ["item_id"], "WHERE status = 'kept'"),
    ("enhancements", ["item_id"], ""),
    ("rl_holdout", ["item_id"], ""),
    ("trajectories", ["trajectory_id", "item_id"], "WHERE status = 'accepted'"),
    ("trajectory_turns", ["trajectory_id"],
     "WHERE trajectory_id IN (SELECT trajectory_id FROM trajectories WHERE status = 'accepted')"),
]


def replicate(con: Connection, data_dir: Path, copies: int) -> None:
    """Insert ``copies`` copies of the exportable rows under suffixed ids (``<id>~k``). Each copy gets its own
    image files: the original with a random 4×4 patch in the corner, re-encoded as PNG, so no two rows embed
    the same bytes (as on a real run) and compression cannot collapse the copies."""
    con.execute("CREATE TEMP TABLE k AS SELECT range AS k FROM range(1, ?)", [copies + 1])
    for table, keys, where in REPLICATE:
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        select = ", ".join(f"{c} || '~' || k.k" if c in keys else c for c in cols)
        con.execute(f"INSERT INTO {table} SELECT {select} FROM (SELECT * FROM {table} {where}) t, k")  # noqa: S608
    rng = np.random.default_rng(0)
    used = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT sha256, path, format FROM image_blobs WHERE sha256 IN (SELECT unnest(image_sha256s) FROM "
        "trajectory_turns UNION SELECT image_sha256 FROM pool_items UNION SELECT degraded_sha256 FROM enhancements)"
    ).fetchall()}
    blobs, remap = [], []
    for sha, (rel, _fmt) in used.items():
        with Image.open(data_dir / rel) as im:
            base = np.array(im.convert("RGB"))
        for k in range(1, copies + 1):
            arr = base.copy()
            arr[:4, :4] = rng.integers(0, 256, size=(min(4, arr.shape[0]), min(4, arr.shape[1]), 3))
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, format="PNG")
            data = buf.getvalue()
            new = hashlib.sha256(data).hexdigest()
            path = data_dir / "images" / new[:2] / f"{new}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            blobs.append((new, "PNG", arr.shape[1], arr.shape[0], len(data), str(path.relative_to(data_dir))))
            remap.append((sha, k, new))
    con.executemany("INSERT OR IGNORE INTO image_blobs VALUES (?, ?, ?, ?, ?, ?)", blobs)
    con.execute("CREATE TEMP TABLE remap(old VARCHAR, k BIGINT, new VARCHAR)")
    con.executemany("INSERT INTO remap VALUES (?, ?, ?)", remap)
    con.execute("""UPDATE pool_items p SET image_sha256 = r.new FROM remap r
                   WHERE p.image_sha256 = r.old AND p.item_id LIKE '%~' || r.k""")
    con.execute("""UPDATE enhancements e SET degraded_sha256 = r.new FROM remap r
                   WHERE e.degraded_sha256 = r.old AND e.item_id LIKE '%~' || r.k""")
    new_of = {(old, k): new for old, k, new in remap}
    turns = con.execute("SELECT trajectory_id, idx, image_sha256s FROM trajectory_turns"
                        " WHERE trajectory_id LIKE '%~%' AND len(image_sha256s) > 0").fetchall()
    con.executemany("UPDATE trajectory_turns SET image_sha256s = ? WHERE trajectory_id = ? AND idx = ?",
                    [[[new_of.get((s, int(tid.rsplit("~", 1)[1])), s) for s in shas], tid, idx]
                     for tid, idx, shas in turns])


def datasets_writer(folder: Path, config: str, split: str, rows: Iterable[SftRow | RlRow],
                    max_bytes: int) -> list[WrittenShard]:
    """The baseline writer: all rows of a split into ``datasets.Dataset.from_list(...).to_parquet`` (one file)."""
    batch = list(rows)
    path = folder / config / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list([r.model_dump(by_alias=True) for r in batch], features=features(config)).to_parquet(str(path))
    return [WrittenShard(path, len(batch), tuple(r.id for r in batch),
                         tuple(r.item_id if isinstance(r, SftRow) else r.id for r in batch))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=100, help="replicas of each exportable row")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each side (median reported)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one export first")
    args = ap.parse_args()
    cfg = load_run_config(CONFIG)
    fhash, shash = filter_hash(cfg.filter), synthesis_hash(cfg.synthesis)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        subprocess.run([sys.executable, "-m", "flows", "run", "--config", str(CONFIG), "--data-dir", str(data_dir)],
                       check=True, capture_output=True, cwd=ROOT)
        shutil.rmtree(data_dir / "export")
        with connect(data_dir / "warehouse.duckdb") as con:
            replicate(con, data_dir, args.copies)
            if args.profile:
                import cProfile
                cProfile.runctx("export_dataset(con, data_dir, cfg.export.model_copy(update={'name': 'warm'}), fhash,"
                                " 'bench', 'bench', cfg.synthesis.date, synthesis_hash=shash)", globals(), locals(),
                                sort="cumtime")

            def timed(name: str, writer: Any) -> tuple[float, ExportResult]:
                t0 = time.perf_counter()
                r = export_dataset(con, data_dir, cfg.export.model_copy(update={"name": name}), fhash, f"b-{name}",
                                   "bench", cfg.synthesis.date, writer=writer, synthesis_hash=shash)
                return time.perf_counter() - t0, r

            timed("warmup", write_shards)                       # imports, first queries, caches
            runs: dict[str, list[float]] = {"ours": [], "base": []}
            for k in range(args.repeats):                       # alternate, so neither side gets the warm turn
                s, res = timed(f"ours{k}", write_shards)
                runs["ours"].append(s)
                s, base = timed(f"base{k}", datasets_writer)
                runs["base"].append(s)
            ours_s, base_s = statistics.median(runs["ours"]), statistics.median(runs["base"])
            rows = res.sft_rows + sum(res.rl_rows.values())
            base_rows = base.sft_rows + sum(base.rl_rows.values())
        ours_bytes = sum(p.stat().st_size for p in res.folder.rglob("*.parquet"))
        base_bytes = sum(p.stat().st_size for p in base.folder.rglob("*.parquet"))
        for folder in (res.folder, base.folder):
            check = load_dataset(str(folder), "rl", split="validation", cache_dir=str(Path(tmp) / "cache"))
            assert check[0]["images"][0].size[0] > 0
    if base_rows != rows:
        sys.exit(f"row counts differ: ours {rows}, baseline {base_rows}")
    print(f"{rows} rows ({res.sft_rows} SFT, {res.rl_rows} RL) with embedded images")
    print(f"ours (median of {args.repeats}): {ours_s:.2f} s = {rows / ours_s:.0f} rows/s, "
          f"{ours_bytes / 2**20:.1f} MiB parquet (zstd), "
          f"card + plots + manifest included")
    print(f"baseline (same stage, datasets.Dataset.from_list + to_parquet writer): {base_s:.2f} s = "
          f"{base_rows / base_s:.0f} rows/s, "
          f"{base_bytes / 2**20:.1f} MiB parquet")
    emit("export_rows_per_s", "rows/s", rows / ours_s, base_rows / base_s, 1.0, rows=rows, sft_rows=res.sft_rows,
         ours_mib=round(ours_bytes / 2**20, 1), baseline_mib=round(base_bytes / 2**20, 1), peak_rss_mb=peak_rss_mb())


if __name__ == "__main__":
    main()
