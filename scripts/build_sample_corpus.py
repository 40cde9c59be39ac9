"""Build the bundled sample corpus ``corpus/enwiki-sample/`` from the real Wikipedia test fixtures.

Usage (from the repository root)::

    .venv/bin/python scripts/build_sample_corpus.py --shared ../shared/data --out corpus/enwiki-sample

What it does, deterministically (same inputs → byte-identical outputs):

1. Reads every ``<page>`` of three English MediaWiki XML fixtures (see ``FIXTURES``) as *raw XML text*:
   each page element is copied byte-for-byte (title, ids, revision id, timestamp, contributor, sha1,
   wikitext), never re-serialised. A title that occurs in two fixtures (the same page id at two
   revisions) is kept once, at its newest revision.
2. Parses every page with the project's own parser (``tasks.ingest.wikitext``, read-only) to get the
   in-sample article links (redirects resolved) and the infobox image names — exactly what
   ``searchvl ingest`` will see.
3. Keeps the largest weakly connected component of the in-sample article link graph, plus every
   redirect that resolves into a kept article. (Every node a path can reach from a seed is in the
   seed's component, so every possible answer node is kept too.) Writes them, in page-id order,
   under the siteinfo header of the gensim fixture to ``pages.xml.bz2``.
4. Images with known free licences only: for each kept article whose infobox's first image is
   ``Flag of <Title>.svg`` and whose title names a flag in the npm package ``flag-icons`` 7.5.0
   (MIT), renders ``flags/4x3/<code>.svg`` with resvg to a 1024×768 PNG. Two U.S. state flags whose
   infobox's first image is the flag (Alabama, Alaska) are drawn here as simple SVGs (CC0) and rendered
   the same way. National and state flag designs are public domain. Each PNG is stored under
   ``media/<slug>.png`` and listed in ``media/images.jsonl`` under the exact file name the infobox
   references, with its licence, author, source and description.
5. Writes ``ATTRIBUTION.md`` and ``attribution.tsv`` (title, page id, revision id, timestamp, oldid
   link, source fixture for every page) and ``LICENSE-flag-icons.txt``.

``flag-icons`` is fetched with ``npm pack flag-icons@7.5.0`` into a temporary folder (its integrity
hash is checked) unless ``--flag-icons`` names an already downloaded ``.tgz``.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import hashlib
import json
import logging
import math
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemas.pages import PageRecord  # noqa: E402
from tasks.ingest.wikitext import Namespaces, parse_page  # noqa: E402
from tasks.ingest.xml_dump import RawPage, SiteInfo, iter_dump  # noqa: E402

log = logging.getLogger("build_sample_corpus")

WIKI = "enwiki"


@dataclass(frozen=True)
class Fixture:
    file: str      # under <shared>/wikitext/
    repo: str      # the public repository the fixture was copied from
    path: str      # its path there
    commit: str    # the commit it was taken at ("" where the fixture's README does not record one)
    repo_license: str


FIXTURES = (
    Fixture("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2", "piskvorky/gensim",
            "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
            "37f90ec121eb7cd401448a947e80953e0c53ccdc", "LGPL-2.1"),
    Fixture("dbpedia-minidump-en-wiki.xml.bz2", "dbpedia/extraction-framework",
            "dump/src/test/resources/minidumps/en/wiki.xml.bz2",
            "e3dfe8bb8dbc3e2e58d9abc188e00e5f9dd0d928", "GPL-2.0"),
    Fixture("enwiki-table-markup.xml.bz2", "piskvorky/gensim",
            "gensim/test/test_data/enwiki-table-markup.xml.bz2", "", "LGPL-2.1"),
)
HEADER_FIXTURE = 0  # the siteinfo header of the output is the gensim fixture's

FLAG_ICONS_VERSION = "7.5.0"
FLAG_ICONS_INTEGRITY = ("sha512-kd+MNXviFIg5hijH766tt+3x76ele1AXlo4zDdCxIvqWZhKt4T83bOtxUOOMlTx/"
                        "EcFdUMH5yvQgYlFh1EqqFg==")
FLAG_ICONS_REPO = "https://github.com/lipis/flag-icons"
RENDER_W, RENDER_H = 1024, 768  # 4:3, both sides >= the paper's 512 px seed-image minimum
PD_MARK = "https://creativecommons.org/publicdomain/mark/1.0/"
CC0 = "https://creativecommons.org/publicdomain/zero/1.0/"

_PAGE = re.compile(r"<page>.*?</page>", re.DOTALL)
_FLAG_REF = re.compile(r"^Flag of (?P<name>.+)\.svg$")


# ------------------------------------------------------------------ hand-drawn U.S. state flags (CC0)

def _star(cx: float, cy: float, r: float) -> str:
    """A five-pointed star (point up) as an SVG path, outer radius ``r``."""
    inner = r * math.sin(math.radians(18)) / math.sin(math.radians(126))
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else inner
        a = math.radians(-90 + 36 * k)
        pts.append(f"{cx + rad * math.cos(a):.1f},{cy + rad * math.sin(a):.1f}")
    return "M" + "L".join(pts) + "Z"


def _alabama_svg() -> str:
    """Flag of Alabama: a crimson saltire (cross of St Andrew) on a white field (Code of Alabama §1-2-1)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {RENDER_W} {RENDER_H}">'
            f'<defs><clipPath id="c"><rect width="{RENDER_W}" height="{RENDER_H}"/></clipPath></defs>'
            f'<rect width="{RENDER_W}" height="{RENDER_H}" fill="#fff"/>'
            f'<path clip-path="url(#c)" d="M0,0L{RENDER_W},{RENDER_H}M{RENDER_W},0L0,{RENDER_H}" '
            f'stroke="#a6192e" stroke-width="{RENDER_H // 6}"/></svg>')


# Alaska: eight gold stars on a blue field — the Big Dipper (handle to the left, bowl lower right) and
# Polaris (upper right, larger). Positions are fractions of width/height, drawn after the 1927 design.
_ALASKA_STARS = ((0.13, 0.55, 0.045), (0.26, 0.50, 0.045), (0.38, 0.53, 0.045), (0.49, 0.61, 0.045),
                 (0.53, 0.80, 0.045), (0.69, 0.81, 0.045), (0.70, 0.59, 0.045), (0.83, 0.22, 0.07))


def _alaska_svg() -> str:
    stars = "".join(_star(x * RENDER_W, y * RENDER_H, r * RENDER_H) for x, y, r in _ALASKA_STARS)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {RENDER_W} {RENDER_H}">'
            f'<rect width="{RENDER_W}" height="{RENDER_H}" fill="#0f204b"/>'
            f'<path fill="#ffb70f" d="{stars}"/></svg>')


HAND_DRAWN = {  # infobox file name -> (SVG builder, designer / adopting government)
    "Flag of Alabama.svg": (_alabama_svg, "State of Alabama (adopted 1895)"),
    "Flag of Alaska.svg": (_alaska_svg, "Benny Benson for the Territory of Alaska (adopted 1927)"),
}


# ------------------------------------------------------------------ reading pages


@dataclass(frozen=True)
class Page:
    fixture: int
    raw_xml: str       # the <page>…</page> element exactly as in the fixture
    raw: RawPage


def read_fixture(path: Path) -> tuple[str, list[tuple[str, RawPage]]]:
    """The text before the first ``<page>`` (mediawiki + siteinfo) and every page as (raw XML, parsed)."""
    text = bz2.decompress(path.read_bytes()).decode("utf-8")
    slices = [m.group(0) for m in _PAGE.finditer(text)]
    parsed = [p for p in iter_dump(path) if not isinstance(p, SiteInfo)]
    if len(slices) != len(parsed):
        raise SystemExit(f"{path}: {len(slices)} raw <page> elements but {len(parsed)} parsed pages")
    for s, p in zip(slices, parsed, strict=True):
        title = ET.fromstring(s).findtext("title")
        if title != p.title:
            raise SystemExit(f"{path}: raw/parsed page order differs at {title!r} / {p.title!r}")
    first = text.find("<page>")
    return text[: first if first >= 0 else len(text)], list(zip(slices, parsed, strict=True))


def namespaces_of(path: Path) -> Namespaces:
    for item in iter_dump(path):
        if isinstance(item, SiteInfo):
            return Namespaces(item.namespaces)
    return Namespaces.english()


def load_pages(shared: Path) -> tuple[str, dict[str, Page], dict[str, Namespaces]]:
    """All pages by title; a title in two fixtures keeps its newest revision (then the earlier fixture)."""
    header = ""
    pages: dict[str, Page] = {}
    nss: dict[str, Namespaces] = {}
    for i, fx in enumerate(FIXTURES):
        path = shared / "wikitext" / fx.file
        head, items = read_fixture(path)
        if i == HEADER_FIXTURE:
            header = head
        ns = namespaces_of(path)
        for raw_xml, raw in items:
            nss[raw.title] = ns
            new = Page(i, raw_xml, raw)
            old = pages.get(raw.title)
            if old is None or (raw.timestamp or "") > (old.raw.timestamp or ""):
                if old is not None:
                    log.info("duplicate %r: keeping %s rev %s over %s rev %s", raw.title, fx.file,
                             raw.revision_id, FIXTURES[old.fixture].file, old.raw.revision_id)
                pages[raw.title] = new
            else:
                log.info("duplicate %r: keeping %s rev %s over %s rev %s", raw.title,
                         FIXTURES[old.fixture].file, old.raw.revision_id, fx.file, raw.revision_id)
    return header, pages, nss


# ------------------------------------------------------------------ selection


def select(pages: dict[str, Page], nss: dict[str, Namespaces]
           ) -> tuple[list[str], list[str], dict[str, PageRecord]]:
    """(kept articles, kept redirects, parsed records of the kept articles)."""
    records: dict[str, PageRecord] = {}
    for t, p in sorted(pages.items()):
        r = p.raw
        rec = parse_page(WIKI, r.title, r.namespace, r.text, nss[t], page_id=r.page_id,
                         revision_id=r.revision_id, timestamp=r.timestamp, redirect=r.redirect)
        if isinstance(rec, PageRecord) and r.namespace == 0:
            records[t] = rec
        else:
            log.info("not a main-namespace page, or unparseable: %r", t)
    redirects = {t: rec.redirect_target for t, rec in records.items() if rec.redirect_target}
    articles = {t for t in records if t not in redirects}

    def resolve(title: str) -> str:
        seen: set[str] = set()
        while title in redirects and title not in seen:
            seen.add(title)
            title = redirects[title]
        return title

    undirected: dict[str, set[str]] = defaultdict(set)
    for t in sorted(articles):
        for link in records[t].links:
            d = resolve(link.target)
            if d in articles and d != t:
                undirected[t].add(d)
                undirected[d].add(t)
    component: dict[str, int] = {}
    members: list[list[str]] = []
    for t in sorted(articles):
        if t in component:
            continue
        component[t] = len(members)
        todo, comp = [t], []
        while todo:
            x = todo.pop()
            comp.append(x)
            for y in sorted(undirected[x]):
                if y not in component:
                    component[y] = component[t]
                    todo.append(y)
        members.append(sorted(comp))
    largest = max(members, key=len)  # members are in order of their first title: ties go to the earliest
    log.info("components: %s", sorted((len(c) for c in members), reverse=True)[:8])
    kept = set(largest)
    kept_redirects = sorted(t for t in redirects if resolve(t) in kept)
    return sorted(kept), kept_redirects, {t: records[t] for t in kept}


# ------------------------------------------------------------------ images


def fetch_flag_icons(tgz: Path | None, workdir: Path) -> Path:
    if tgz is None:
        subprocess.run(["npm", "pack", f"flag-icons@{FLAG_ICONS_VERSION}", "--pack-destination", str(workdir)],
                       check=True, capture_output=True)
        tgz = workdir / f"flag-icons-{FLAG_ICONS_VERSION}.tgz"
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tgz.read_bytes()).digest()).decode()
    if digest != FLAG_ICONS_INTEGRITY:
        raise SystemExit(f"{tgz}: integrity {digest} is not flag-icons {FLAG_ICONS_VERSION}'s")
    return tgz


def render(svg: str) -> bytes:
    import resvg_py  # the venv has it; imported here so --help works without it

    png = resvg_py.svg_to_bytes(svg_string=svg, width=RENDER_W, height=RENDER_H, skip_system_fonts=True)
    return bytes(png)


def slug(file_name: str) -> str:
    stem = file_name.rsplit(".", 1)[0]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")


def build_media(records: dict[str, PageRecord], tgz: Path, out: Path) -> list[dict[str, object]]:
    """Render the free flag images the kept infoboxes reference; returns the manifest rows."""
    with tarfile.open(tgz, "r:gz") as tar:
        def member(name: str) -> bytes:
            f = tar.extractfile(f"package/{name}")
            assert f is not None
            return f.read()

        countries = {c["name"]: c for c in json.loads(member("country.json")) if c.get("iso")}
        (out / "LICENSE-flag-icons.txt").write_bytes(member("LICENSE"))
        wanted: dict[str, tuple[str, str]] = {}  # file name -> (svg text, what)
        rows: list[dict[str, object]] = []
        for title, rec in sorted(records.items()):
            boxed = [i.file_name for i in rec.images if i.role == "infobox"]
            if not boxed or boxed[0] in wanted:
                continue
            first = boxed[0]
            m = _FLAG_REF.match(first)
            if m and m.group("name") == title and title in countries:
                code = countries[title]["code"]
                svg_path = countries[title]["flag_4x3"]
                wanted[first] = (member(svg_path).decode("utf-8"), f"flag-icons:{svg_path}")
                rows.append({
                    "file_name": first,
                    "path": f"{slug(first)}.png",
                    "license": "Public domain",
                    "license_url": PD_MARK,
                    "author": (f"Flag design: government of {title} (public domain). SVG drawing: flag-icons "
                               f"{FLAG_ICONS_VERSION} contributors, © 2013 Panayiotis Lipiridis (MIT)"),
                    "source_url": f"{FLAG_ICONS_REPO}/blob/v{FLAG_ICONS_VERSION}/{svg_path}",
                    "description": (f"Flag of {title}: {svg_path} ({code}) from the npm package flag-icons "
                                    f"{FLAG_ICONS_VERSION} (MIT, see LICENSE-flag-icons.txt), rendered with "
                                    f"resvg to a {RENDER_W}×{RENDER_H} PNG. National flags are public domain."),
                })
            elif first in HAND_DRAWN:
                build, designer = HAND_DRAWN[first]
                wanted[first] = (build(), "hand-drawn")
                rows.append({
                    "file_name": first,
                    "path": f"{slug(first)}.png",
                    "license": "Public domain",
                    "license_url": PD_MARK,
                    "author": (f"Flag design: {designer} (public domain). Simplified SVG drawing: searchvl "
                               "contributors, dedicated to the public domain (CC0 1.0)"),
                    "source_url": "scripts/build_sample_corpus.py",
                    "description": (f"{first.removesuffix('.svg')}: a simplified drawing made for this corpus "
                                    f"(see HAND_DRAWN in scripts/build_sample_corpus.py, CC0 1.0 {CC0}), "
                                    f"rendered with resvg to a {RENDER_W}×{RENDER_H} PNG."),
                })
            elif first.startswith("Flag of "):
                log.info("no free flag available for %r (%s)", title, first)
    media = out / "media"
    media.mkdir(parents=True, exist_ok=True)
    for row in rows:
        svg, what = wanted[str(row["file_name"])]
        (media / str(row["path"])).write_bytes(render(svg))
        log.info("image %s <- %s", row["file_name"], what)
    with (media / "images.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    return rows


# ------------------------------------------------------------------ writing


def write_pages(header: str, pages: dict[str, Page], titles: list[str], out: Path) -> None:
    ordered = sorted(titles, key=lambda t: (pages[t].raw.page_id or 0, t))
    body = "".join(f"  {pages[t].raw_xml}\n" for t in ordered)
    xml = header.rstrip() + "\n" + body + "</mediawiki>\n"
    ET.fromstring(xml)  # well-formed
    (out / "pages.xml.bz2").write_bytes(bz2.compress(xml.encode("utf-8"), compresslevel=9))


def write_attribution(pages: dict[str, Page], articles: list[str], redirects: list[str], out: Path) -> None:
    rows = []
    for kind, titles in (("article", articles), ("redirect", redirects)):
        for t in titles:
            r, fx = pages[t].raw, FIXTURES[pages[t].fixture]
            rows.append((kind, t, r.page_id, r.revision_id, r.timestamp or "",
                         f"https://en.wikipedia.org/w/index.php?oldid={r.revision_id}",
                         f"{fx.repo}@{fx.commit[:12] or 'unrecorded'}:{fx.path}"))
    rows.sort(key=lambda x: (x[0], x[2] or 0, x[1]))
    cols = ("kind", "title", "page_id", "revision_id", "timestamp", "oldid_url", "source_fixture")
    with (out / "attribution.tsv").open("w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(cols) + "\n")
        for row in rows:
            f.write("\t".join(str(x) for x in row) + "\n")
    lines = [
        "# Attribution: enwiki-sample",
        "",
        "The text of every page in `pages.xml.bz2` is from the English Wikipedia, © Wikipedia contributors,",
        "licensed under the [Creative Commons Attribution-ShareAlike 3.0 Unported License]"
        "(https://creativecommons.org/licenses/by-sa/3.0/)",
        "(revisions before 15 June 2009 also under the GNU Free Documentation License). The pages are",
        "unmodified: each `<page>` element is copied byte-for-byte from a public test fixture (below). The",
        "list of authors of each page is its history up to the revision given, at the `oldid` link.",
        "This corpus as a whole is redistributed under CC BY-SA 3.0.",
        "",
        "Source fixtures (the repositories' own licences cover their code, not the Wikipedia text):",
        "",
    ]
    for fx in FIXTURES:
        commit = f"commit `{fx.commit[:12]}`" if fx.commit else "commit not recorded"
        lines.append(f"- `{fx.file}`: github.com/{fx.repo}, `{fx.path}` ({commit}, "
                     f"repository licence {fx.repo_license})")
    lines += ["", f"Images: see `media/images.jsonl` (flag designs in the public domain; flag-icons "
              f"{FLAG_ICONS_VERSION} drawings under the MIT licence in `LICENSE-flag-icons.txt`).", ""]
    for kind, heading in (("article", "Articles"), ("redirect", "Redirects")):
        sel = [r for r in rows if r[0] == kind]
        lines += [f"## {heading} ({len(sel)})", "", "| title | page id | revision | timestamp | fixture |",
                  "|---|---|---|---|---|"]
        for _, t, pid, rev, ts, url, src in sel:
            fixture = src.rsplit("/", 1)[-1]
            lines.append(f"| {t.replace('|', '&#124;')} | {pid} | [{rev}]({url}) | {ts} | `{fixture}` |")
        lines.append("")
    (out / "ATTRIBUTION.md").write_text("\n".join(lines), encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--shared", type=Path, required=True, help="the shared data folder (has wikitext/)")
    ap.add_argument("--out", type=Path, required=True, help="output folder, e.g. corpus/enwiki-sample")
    ap.add_argument("--flag-icons", type=Path, default=None,
                    help=f"flag-icons-{FLAG_ICONS_VERSION}.tgz (default: fetch it with npm pack)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    header, pages, nss = load_pages(args.shared)
    articles, redirects, records = select(pages, nss)
    out: Path = args.out
    media = out / "media"
    if media.exists():
        for old in media.iterdir():
            if old.is_file():
                old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_pages(header, pages, articles + redirects, out)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = fetch_flag_icons(args.flag_icons, Path(tmp))
        rows = build_media(records, tgz, out)
    write_attribution(pages, articles, redirects, out)
    size = (out / "pages.xml.bz2").stat().st_size
    log.info("wrote %s: %d articles, %d redirects, %d images, pages.xml.bz2 = %d bytes",
             out, len(articles), len(redirects), len(rows), size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
