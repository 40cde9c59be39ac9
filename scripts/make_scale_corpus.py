"""Write a synthetic pages-articles XML of N pages built from the real bundled corpus, for scale benchmarks.

Usage (from the repository root)::

    .venv/bin/python scripts/make_scale_corpus.py --pages 10000 --out /tmp/scale/pages-10k.xml [--bz2]

Every page is a real article of ``corpus/enwiki-sample/pages.xml.bz2`` (a template, taken in turn), re-titled
``<template title> (synthetic <i>)`` and with its article links rewired so the link graph has the degree
distribution of the Wikispeedia graph (``../shared/data/graph/``):

- out-degree: each page draws its number of article links from the Wikispeedia out-degree distribution (the
  template's first links are kept, rewired; extra links are listed under "See also"; links beyond the drawn
  degree become their plain anchor text);
- in-degree: each page draws a weight from the Wikispeedia in-degree distribution (+1) and every link target
  is chosen with probability proportional to it (preferential attachment to the same long tail).

Each template is cut at its first section heading after ``--max-chars`` (and after its infobox): the
lead and infobox stay whole, the page stays near enwiki's average size. Infobox, lead, sentences and image
names stay the template's, so the bundled media folder
(``corpus/enwiki-sample/media``, passed as the source's ``media_dir``) serves their images. Every fourth
page gets a redirect (``Synthetic alias <i>``). Every row is labelled synthetic: the siteinfo ``dbname`` is
``synthwiki``, which is the ``wiki`` column of every page, link, alias and image row the ingest writes.
Deterministic: the same ``--pages`` and ``--seed`` give byte-identical output.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.ingest.wikitext import Namespaces  # noqa: E402 - after the path set-up above
from tasks.ingest.xml_dump import RawPage, iter_dump  # noqa: E402

TEMPLATES = ROOT / "corpus" / "enwiki-sample" / "pages.xml.bz2"
GRAPH = ROOT.parent / "shared" / "data" / "graph" / "wikispeedia_links.tsv.gz"
WIKI = "synthwiki"
_LINK = re.compile(r"\[\[([^\[\]|{}<>]*)(?:\|([^\[\]]*))?\]\]")
HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Synthetic Wikipedia (scale benchmark; built from real enwiki pages)</sitename>
    <dbname>synthwiki</dbname>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="6" case="first-letter">File</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""


def wikispeedia_degrees(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Out- and in-degree of every Wikispeedia article that has a link (empirical distributions)."""
    out: dict[str, int] = {}
    inn: dict[str, int] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b = line.rstrip("\n").split("\t")
            out[a] = out.get(a, 0) + 1
            inn[b] = inn.get(b, 0) + 1
    return np.array(sorted(out.values())), np.array(sorted(inn.values()))


def templates(path: Path) -> list[RawPage]:
    return [p for p in iter_dump(path) if isinstance(p, RawPage) and p.namespace == 0 and p.redirect is None
            and not p.text.lstrip()[:9].upper().startswith("#REDIRECT")]


def _page_xml(title: str, page_id: int, text: str, redirect: str | None = None) -> str:
    red = f"    <redirect title={quoteattr(redirect)} />\n" if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>0</ns>\n    <id>{page_id}</id>\n{red}"
            f"    <revision>\n      <id>{page_id}</id>\n      <timestamp>2026-01-01T00:00:00Z</timestamp>\n"
            f"      <text xml:space=\"preserve\">{escape(text)}</text>\n    </revision>\n  </page>\n")


def cut(text: str, max_chars: int) -> str:
    """``text`` up to the first section heading after ``max_chars`` characters and after the infobox (so the
    lead and the infobox stay whole); the whole text when it is shorter."""
    start = max(max_chars, _template_close(text, text.find("{{Infobox")) if "{{Infobox" in text else 0)
    end = text.find("\n==", start)
    return text if end == -1 else text[:end]


def _template_close(text: str, i: int) -> int:
    depth = 0
    while i < len(text) - 1:
        pair = text[i:i + 2]
        if pair in ("{{", "}}"):
            depth += 1 if pair == "{{" else -1
            i += 2
            if depth == 0:
                return i
            continue
        i += 1
    return len(text)


def rewire(text: str, degree: int, targets: Iterator[str], ns: Namespaces) -> str:
    """``text`` with its first ``degree`` article links pointing at ``targets`` (anchor text kept), later
    article links as plain text, and a "See also" list when the template has fewer links than ``degree``."""
    kept = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal kept
        target, anchor = m.group(1), m.group(2)
        nsid, _ = ns.split(target.lstrip(":"))
        if nsid != 0 or not target.strip():
            return m.group(0)
        shown = anchor if anchor is not None else target
        if kept >= degree:
            return shown
        kept += 1
        return f"[[{next(targets)}|{shown}]]"

    out = _LINK.sub(sub, text)
    if kept < degree:
        out += "\n\n== See also ==\n" + "".join(f"* [[{next(targets)}]]\n" for _ in range(degree - kept))
    return out


def write_corpus(stream: IO[str], n: int, seed: int, max_chars: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    tpl = templates(TEMPLATES)
    out_deg, in_deg = wikispeedia_degrees(GRAPH)
    titles = [f"{tpl[i % len(tpl)].title} (synthetic {i})" for i in range(n)]
    weights = rng.choice(in_deg, size=n).astype(np.float64) + 1.0
    weights /= weights.sum()
    degrees = rng.choice(out_deg, size=n)
    ns = Namespaces.english()
    stream.write(HEADER)
    links = redirects = 0
    for i in range(n):
        d = int(min(degrees[i], n - 1))
        picks = rng.choice(n, size=d + 2, p=weights)
        chosen = iter([titles[j] for j in picks if j != i][:d] + [titles[(i + 1) % n]] * d)
        stream.write(_page_xml(titles[i], i + 1, rewire(cut(tpl[i % len(tpl)].text, max_chars), d, chosen, ns)))
        links += d
        if i % 4 == 0:
            stream.write(_page_xml(f"Synthetic alias {i}", n + i + 1, f"#REDIRECT [[{titles[i]}]]", titles[i]))
            redirects += 1
    stream.write("</mediawiki>\n")
    return {"pages": n, "redirects": redirects, "links": links, "templates": len(tpl)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-chars", type=int, default=4000,
                    help="cut each template after its first section heading past this many characters (and past "
                         "its infobox); enwiki averages ~5 KB of wikitext per page, redirects included")
    ap.add_argument("--bz2", action="store_true", help="compress (the path gets .bz2 appended when missing)")
    args = ap.parse_args()
    if not GRAPH.exists():
        sys.exit(f"Wikispeedia graph not found at {GRAPH} (../shared/data must sit beside the repo)")
    out = args.out if not args.bz2 or args.out.suffix == ".bz2" else args.out.with_name(args.out.name + ".bz2")
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = bz2.open if args.bz2 else open
    with opener(out, "wt", encoding="utf-8") as f:
        counts = write_corpus(f, args.pages, args.seed, args.max_chars)
    sys.stdout.write(json.dumps({"path": str(out), "bytes": out.stat().st_size, **counts}) + "\n")


if __name__ == "__main__":
    main()
