"""Ingest throughput: ours vs a naive single-process ingest, same dump, same run.

Ours: ``tasks.ingest.ingest.ingest_source`` — streaming reader, partial mwparserfromhell parse
(infobox + lead only, regex for links) in a process pool, Arrow batch upserts into DuckDB.
Baseline (named in the issue): one process, full ``mwparserfromhell.parse`` of every page (links,
templates and plain text from the full tree), row-by-row ``INSERT`` of pages and links.

Usage: python -m benchmarks.ingest [DUMP] [--workers N]   (from the repo root)
Default DUMP: the gensim enwiki sample in ../shared/data (106 long articles, 99 redirects).
Prints throughput in pages/s and a projection for full English Wikipedia; last line is JSON.
"""

from __future__ import annotations

import argparse
import bz2
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import mwparserfromhell

from benchmarks._common import emit, fixture, peak_rss_mb
from schemas.run_config import IngestConfig, SourceConfig
from tasks.ingest.ingest import ingest_source
from warehouse.db import connect

DEFAULT = "wikitext/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
ENWIKI_ARTICLES = 7_000_000          # ≈ articles in English Wikipedia (2025)
ENWIKI_PAGES = 18_500_000            # articles + redirects in pages-articles (ns 0)
ENWIKI_TEXT_BYTES = 100e9            # ≈ uncompressed wikitext of pages-articles


def ours(path: Path, workers: int) -> tuple[int, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        src = SourceConfig(kind="xml", path=path)
        t0 = time.perf_counter()
        with connect(Path(tmp) / "w.duckdb") as con:
            res = ingest_source(con, Path(tmp), src, IngestConfig(sources=[src]), "bench", workers=workers)
            text = con.execute("SELECT count(*) FROM links").fetchall()[0][0]
        return res.pages, time.perf_counter() - t0, int(text)


def baseline(path: Path) -> tuple[int, float]:
    ns = "{http://www.mediawiki.org/xml/export-0.10/}"
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "b.duckdb"))
        con.execute("CREATE TABLE pages (title VARCHAR PRIMARY KEY, redirect VARCHAR, lead VARCHAR, infobox VARCHAR)")
        con.execute("CREATE TABLE links (src VARCHAR, ordinal INTEGER, dst VARCHAR, anchor VARCHAR, "
                    "PRIMARY KEY (src, ordinal))")
        t0, n = time.perf_counter(), 0
        stream = bz2.open(path) if path.suffix == ".bz2" else path.open("rb")  # noqa: SIM115 - closed below
        for _, el in ET.iterparse(stream):
            if el.tag != ns + "page":
                continue
            title = el.findtext(ns + "title") or ""
            red = el.find(ns + "redirect")
            text = el.findtext(f"{ns}revision/{ns}text") or ""
            code = mwparserfromhell.parse(text)
            boxes = [t for t in code.filter_templates(recursive=False)
                     if str(t.name).strip().lower().startswith("infobox")]
            infobox = {str(p.name).strip(): p.value.strip_code().strip() for p in boxes[0].params} if boxes else {}
            lead = code.strip_code().split("\n\n")[0]
            con.execute("INSERT INTO pages VALUES (?, ?, ?, ?)",
                        [title, red.get("title") if red is not None else None, lead, str(infobox)])
            for i, link in enumerate(code.filter_wikilinks()):
                con.execute("INSERT INTO links VALUES (?, ?, ?, ?)",
                            [title, i, str(link.title), str(link.text or link.title)])
            n += 1
            el.clear()
        elapsed = time.perf_counter() - t0
        stream.close()
        con.close()
    return n, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", nargs="?", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    path = args.dump or fixture(DEFAULT)
    if path.suffix == ".bz2":
        with bz2.open(path) as f:
            size = len(f.read())
    else:
        size = path.stat().st_size
    pages_o, t_o, links = ours(path, args.workers)
    rss = peak_rss_mb()
    pages_b, t_b = baseline(path)
    pps_o, pps_b = pages_o / t_o, pages_b / t_b
    bytes_s = size / t_o
    hours_bytes = ENWIKI_TEXT_BYTES / bytes_s / 3600
    hours_pages = ENWIKI_PAGES / pps_o / 3600
    print(f"dump: {path.name} ({size / 1e6:.1f} MB wikitext, {pages_o} pages, {links} links)")
    print(f"ours:     {pages_o} pages in {t_o:.2f}s = {pps_o:.1f} pages/s, {bytes_s / 1e6:.2f} MB/s "
          f"({args.workers} workers), peak RSS {rss} MiB")
    print(f"baseline: {pages_b} pages in {t_b:.2f}s = {pps_b:.1f} pages/s (1 process, full parse, row inserts)")
    print(f"projection, full enwiki on this machine: {hours_bytes:.1f} h by text volume "
          f"(~{ENWIKI_TEXT_BYTES / 1e9:.0f} GB), {hours_pages:.1f} h by page count (~{ENWIKI_PAGES / 1e6:.1f} M pages)")
    emit("ingest_xml_pages_per_s", "pages/s", pps_o, pps_b, 3.0, dump=path.name, workers=args.workers,
         mb_per_s=round(bytes_s / 1e6, 3), peak_rss_mib=rss, projected_enwiki_hours=round(hours_bytes, 1),
         projected_enwiki_hours_upper=round(hours_pages, 1))


if __name__ == "__main__":
    main()
