"""Ingest throughput: ours vs a fair single-process ingest, same dump, same run, interleaved.

Ours: ``tasks.ingest.ingest.ingest_source`` — streaming reader, a parameter splitter for the infobox and
mwparserfromhell for the lead only, regex for links and their sentences, in a process pool, Arrow batch
upserts into DuckDB.
Baseline ("fair naive ingest"): one process, streaming ``iterparse``, full ``mwparserfromhell.parse`` of
every page (links with anchor text, infobox params and lead text from the full tree), and one bulk write
per batch of ``--batch`` pages (an Arrow table per table, ``INSERT … SELECT``), the same write path ours
uses. Physical reference: bz2 decompression alone on one core (``bz2.BZ2Decompressor`` over the same
file), measured in the same run; no ingest can beat it per core without a parallel decompressor.

Each repetition runs ours, then the baseline, then decompression (interleaved, so machine load hits all
three alike); the figures are medians over ``--repeat`` repetitions. MB are MB of uncompressed wikitext
(the XML text the parser reads). MB/s per core = MB/s ÷ processes used (ours: ``--workers``; baseline 1).

Usage: python -m benchmarks.ingest [DUMP] [--workers N] [--repeat 3]   (from the repo root)
Default DUMP: the gensim enwiki sample in ../shared/data (106 long articles, 99 redirects); a larger
input such as ``scripts/make_scale_corpus.py --pages 2000`` amortises process start-up.
Last stdout line is JSON (ratio = ours pages/s ÷ baseline pages/s, target 3 on 2 cores).
"""

from __future__ import annotations

import argparse
import bz2
import os
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import mwparserfromhell
import pyarrow as pa

from benchmarks._common import emit, fixture, peak_rss_mb
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from warehouse.db import connect

DEFAULT = "wikitext/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_PAGES = pa.schema([("title", pa.string()), ("redirect", pa.string()), ("lead", pa.string()),
                    ("infobox", pa.map_(pa.string(), pa.string()))])
_LINKS = pa.schema([("src", pa.string()), ("ordinal", pa.int32()), ("dst", pa.string()), ("anchor", pa.string())])
ENWIKI_PAGES = 18_500_000            # articles + redirects in pages-articles (ns 0)
ENWIKI_TEXT_BYTES = 100e9            # ≈ uncompressed wikitext of pages-articles


def ours(path: Path, workers: int) -> tuple[int, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        src = SourceConfig(kind="xml", path=path)
        t0 = time.perf_counter()
        with connect(Path(tmp) / "w.duckdb") as con:
            res = ingest_source(con, Path(tmp), src, IngestConfig(sources=[src]), "bench", workers=workers)
            links = con.execute("SELECT count(*) FROM links").fetchall()[0][0]
        return res.pages, time.perf_counter() - t0, int(links)


def _open(path: Path):  # type: ignore[no-untyped-def]
    return bz2.open(path) if path.suffix == ".bz2" else path.open("rb")


def _flush(con: duckdb.DuckDBPyConnection, pages: dict[str, list[object]], links: dict[str, list[object]]) -> None:
    con.execute("BEGIN TRANSACTION")
    for name, cols in (("pages", pages), ("links", links)):
        if cols["title" if name == "pages" else "src"]:
            tbl = pa.table(cols, schema=_PAGES if name == "pages" else _LINKS)
            con.register("_batch", tbl)
            con.execute(f"INSERT INTO {name} SELECT * FROM _batch")  # noqa: S608 - fixed table names
            con.unregister("_batch")
        for v in cols.values():
            v.clear()
    con.execute("COMMIT")


def baseline(path: Path, batch: int) -> tuple[int, float, int]:
    """One process, full parse of every page, one Arrow bulk insert per ``batch`` pages."""
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "b.duckdb"))
        con.execute("CREATE TABLE pages (title VARCHAR PRIMARY KEY, redirect VARCHAR, lead VARCHAR, "
                    "infobox MAP(VARCHAR, VARCHAR))")
        con.execute("CREATE TABLE links (src VARCHAR, ordinal INTEGER, dst VARCHAR, anchor VARCHAR, "
                    "PRIMARY KEY (src, ordinal))")
        pages: dict[str, list[object]] = {"title": [], "redirect": [], "lead": [], "infobox": []}
        links: dict[str, list[object]] = {"src": [], "ordinal": [], "dst": [], "anchor": []}
        t0, n, n_links = time.perf_counter(), 0, 0
        with _open(path) as stream:
            for _, el in ET.iterparse(stream):
                if not el.tag.endswith("}page"):
                    continue
                ns = el.tag[:-4]
                title = el.findtext(ns + "title") or ""
                red = el.find(ns + "redirect")
                text = el.findtext(f"{ns}revision/{ns}text") or ""
                code = mwparserfromhell.parse(text)
                boxes = [t for t in code.filter_templates(recursive=False)
                         if str(t.name).strip().lower().startswith("infobox")]
                infobox = ({str(p.name).strip(): p.value.strip_code().strip() for p in boxes[0].params}
                           if boxes else {})
                pages["title"].append(title)
                pages["redirect"].append(red.get("title") if red is not None else None)
                pages["lead"].append(code.strip_code().split("\n\n")[0])
                pages["infobox"].append(list(infobox.items()))
                for i, link in enumerate(code.filter_wikilinks()):
                    links["src"].append(title)
                    links["ordinal"].append(i)
                    links["dst"].append(str(link.title))
                    links["anchor"].append(str(link.text or link.title))
                    n_links += 1
                n += 1
                el.clear()
                if n % batch == 0:
                    _flush(con, pages, links)
        _flush(con, pages, links)
        elapsed = time.perf_counter() - t0
        con.close()
    return n, elapsed, n_links


def decompress_only(path: Path) -> tuple[int, float]:
    """Bytes out and seconds of decompressing ``path`` on one core (a plain read for an uncompressed file)."""
    t0, size = time.perf_counter(), 0
    with path.open("rb") as f:
        dec = bz2.BZ2Decompressor() if path.suffix == ".bz2" else None
        while raw := f.read(1 << 20):
            while raw:
                if dec is None:
                    size += len(raw)
                    break
                if dec.eof:
                    dec = bz2.BZ2Decompressor()
                size += len(dec.decompress(raw))
                raw = dec.unused_data if dec.eof else b""
    return size, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", nargs="?", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", type=int, default=IngestConfig.model_fields["batch_pages"].default)
    args = ap.parse_args()
    path = args.dump or fixture(DEFAULT)
    t_o, t_b, t_z = [], [], []
    for _ in range(args.repeat):
        pages_o, secs, links_o = ours(path, args.workers)
        t_o.append(secs)
        pages_b, secs, links_b = baseline(path, args.batch)
        t_b.append(secs)
        size, secs = decompress_only(path)
        t_z.append(secs)
    rss = peak_rss_mb()
    mo, mb, mz = statistics.median(t_o), statistics.median(t_b), statistics.median(t_z)
    mbs_o, mbs_b, mbs_z = size / mo / 1e6, size / mb / 1e6, size / mz / 1e6
    pps_o, pps_b = pages_o / mo, pages_b / mb
    print(f"dump: {path.name} ({size / 1e6:.1f} MB wikitext XML, {pages_o} pages); medians of {args.repeat} "
          f"interleaved runs")
    print(f"ours:      {pps_o:7.1f} pages/s  {mbs_o:6.2f} MB/s  {mbs_o / args.workers:6.2f} MB/s per core "
          f"({args.workers} workers, {links_o} links)  runs {[round(t, 2) for t in t_o]} s")
    print(f"baseline:  {pps_b:7.1f} pages/s  {mbs_b:6.2f} MB/s  {mbs_b:6.2f} MB/s per core "
          f"(1 process, full parse, Arrow bulk write per {args.batch} pages, {links_b} links)  "
          f"runs {[round(t, 2) for t in t_b]} s")
    print(f"bz2 alone: {mbs_z:6.2f} MB/s on one core (decompression only)  runs {[round(t, 3) for t in t_z]} s")
    print(f"projection, full enwiki (~{ENWIKI_TEXT_BYTES / 1e9:.0f} GB wikitext) on this machine: "
          f"{ENWIKI_TEXT_BYTES / (size / mo) / 3600:.1f} h by text volume")
    emit("ingest_xml_pages_per_s", "pages/s", pps_o, pps_b, 3.0, dump=path.name, workers=args.workers,
         repeat=args.repeat, mb_per_s=round(mbs_o, 3), mb_per_s_per_core=round(mbs_o / args.workers, 3),
         baseline_mb_per_s=round(mbs_b, 3), bz2_mb_per_s_one_core=round(mbs_z, 3), peak_rss_mib=rss,
         projected_enwiki_hours=round(ENWIKI_TEXT_BYTES / (size / mo) / 3600, 1))


if __name__ == "__main__":
    main()
