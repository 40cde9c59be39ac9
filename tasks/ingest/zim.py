"""ZIM (openZIM / Kiwix) reader: rendered article HTML → the same records an XML dump gives.

A ZIM holds no wikitext, only the HTML MediaWiki rendered, so the record is rebuilt from the page:
``table.infobox`` rows become the infobox (header cell → key), links resolve through the archive's
own paths (a link to a redirect entry keeps the redirect's title, as a wikilink would, and the
redirect entry itself becomes a redirect ``PageRecord``), and image bytes come straight from the
archive. What the HTML cannot say is left out rather than guessed: the infobox *template name* is
not in the HTML, so ``infobox_type`` is inferred from the box's shape (``infobox_kind``) and falls
back to plain ``"infobox"``; images carry no licence (ZIM files have none per image).

Navboxes, hatnotes, reference lists and message boxes are dropped before links are read: every
article of a topic ZIM embeds the same navbox, which would turn the link graph into one dense hub.

Entries are read one at a time through ``Archive._get_entry_by_id`` (python-libzim 3.13 has no public
entry iterator), so memory holds one page plus the current batch and the set of image names sent.
Both namespace schemes are read. Old-scheme ZIMs (before 2021; the fixture) report paths with their
namespace (``A/Ray_Charles.html``, ``I/m/x.jpg``). New-scheme ZIMs (every current Kiwix Wikipedia) keep all
content in ``C`` and python-libzim reports and looks up those paths *without* the namespace (``Ray_Charles``);
``_Zim`` gives both one form, ``C/Ray_Charles``, so the rest of this module sees ``<content ns>/<path>``
either way and hrefs, which are relative to the entry, join the same way.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from libzim.reader import Archive, Entry
from selectolax.lexbor import LexborHTMLParser, LexborNode

from schemas.errors import SourceError
from schemas.pages import AliasKind, ImageBlob, ImageMeta, ImageRef, ImageRole, LinkRecord, PageRecord, PageReject
from tasks.ingest.wikitext import MAX_SENTENCE, normalise_title

log = logging.getLogger(__name__)
Record = PageRecord | PageReject | ImageBlob
Resolver = Callable[[str], str | None]
"""ZIM path (``A/Ray_Charles.html``) → title of the article or redirect entry there, or None."""

# Page furniture, not content: removed before anything is read.
_NOISE = ", ".join([
    "sup.reference", "sup[id^='cite_ref']", "sup.noprint", ".mw-editsection", "style", "script", "link", "meta",
    "noscript",
    "[style*='display:none']", "[style*='display: none']",
])
# Boilerplate blocks whose links are not claims of this article (one navbox links every page of a topic).
_EXCLUDED = ", ".join([
    ".navbox", ".vertical-navbox", ".hatnote", ".dablink", ".rellink", "ol.references", ".references",
    ".reflist", ".refbegin", ".metadata", "[class*='mbox']", ".sistersitebox", ".noprint", "#toc", ".toc",
    ".catlinks", ".portal", "#coordinates",
])
_DISAMBIG = "#disambigbox, .dmbox, #disambig, .disambig"
_BLOCKS = frozenset({"p", "li", "dd", "dt", "td", "th", "blockquote", "caption", "figcaption", "h1", "h2", "h3",
                     "h4", "h5", "h6", "div", "table", "tr", "tbody", "thead", "ul", "ol", "dl", "section",
                     "center", "pre", "figure", "body"})
_NAME_KEYS = frozenset({"name", "birth name", "native name", "also known as", "other names", "nickname",
                        "full name", "common name", "official name", "conventional long name"})
_WS = re.compile(r"\s+")
_KEY_EDGES = re.compile(r"^[\W_]+|[\s:]+$")
_SEPS = re.compile(r"(?:\s*,\s*){2,}")
_QUOTES = "\"“”'‘’ "
_WIKI_NAME = re.compile(r"^wikipedia_([a-z]{2,3}(?:-[a-z]+)*)_", re.IGNORECASE)  # wikipedia_zh-min-nan_all_…
_ISO3 = {"eng": "en", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de", "spa": "es", "ita": "it", "por": "pt",
         "nld": "nl", "dut": "nl", "rus": "ru", "pol": "pl", "jpn": "ja", "zho": "zh", "chi": "zh", "ara": "ar",
         "swe": "sv", "ukr": "uk", "vie": "vi", "fas": "fa", "per": "fa", "cat": "ca", "nor": "no", "fin": "fi",
         "ces": "cs", "cze": "cs", "hun": "hu", "kor": "ko", "tur": "tr", "heb": "he", "ind": "id", "lav": "lv"}
MIN_IMAGE_SIDE = 64
"""Images shown smaller than this on both sides are icons (flags in lists, sister-project logos)."""
MAX_REDIRECT_HOPS = 8
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".svg", ".tif", ".tiff")


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """A page record plus where its images' bytes live in the archive (``file_name`` → ZIM path)."""

    record: PageRecord
    image_paths: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- paths and names


def zim_path(base: str, href: str) -> str | None:
    """The decoded archive path an ``href``/``src`` on the entry at ``base`` points to; None for
    external URLs and same-page fragments. Joined before decoding, so ``AC%2FDC.html`` stays one name."""
    if not href or href.startswith("#"):
        return None
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base), parts.path))
    if joined.startswith(("../", "/")) or joined == "..":
        return None
    return unquote(joined)


def file_name_of(path: str) -> str:
    """``I/m/Ray_Charles_(cropped).jpg`` → ``Ray Charles (cropped).jpg``, the name pages use on the wiki.
    ZIMs store SVGs as PNG renders named ``X.svg.png``; the ``.png`` is dropped so the name matches the
    wiki's ``File:X.svg`` (the stored format still comes from the bytes); likewise the ``.webp`` of the
    WebP renders current ZIMs store (``X.jpg.webp``)."""
    name = posixpath.basename(path)
    low = name.lower()
    if low.endswith(".svg.png"):
        name = name[:-4]
    elif low.endswith(".webp") and low[:-5].endswith(_IMAGE_EXTS):  # new ZIMs: ``X.jpg.webp`` renders
        name = name[:-5]
    return normalise_title(name)


def title_from_path(path: str) -> str:
    """Fallback title when an entry has none: ``A/Bein'_Green.html`` → ``Bein' Green``."""
    name = path.split("/", 1)[-1]
    for ext in (".html", ".htm"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return normalise_title(name)


# ---------------------------------------------------------------- text with link offsets


class _Text:
    """Whitespace-collapsed text built from a subtree, remembering where each ``<a>`` landed."""

    def __init__(self, sep: str) -> None:
        self.sep = sep
        self.parts: list[str] = []
        self.n = 0
        self.space = True
        self.spans: dict[int, tuple[int, int]] = {}

    def add(self, s: str) -> None:
        s = _WS.sub(" ", s)
        if self.space and s.startswith(" "):
            s = s[1:]
        if s:
            self.parts.append(s)
            self.n += len(s)
            self.space = s.endswith(" ")

    def boundary(self) -> None:
        """A block edge or ``<br>``: one separator, never two in a row, none at the start."""
        if not self.n or (self.sep.strip() and self.parts[-1].endswith(self.sep)):
            return
        if self.space and self.sep.strip():
            self.parts[-1] = self.parts[-1][:-1]
            self.n -= 1
        self.add(self.sep)

    def walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            if child.is_text_node:
                self.add(child.text_content or "")
                continue
            tag = child.tag
            if tag == "br":
                self.boundary()
            elif tag in _BLOCKS:
                self.boundary()
                self.walk(child)
                self.boundary()
            elif tag == "a":
                self.walk_link(child)
            elif tag and not tag.startswith("-"):
                self.walk(child)

    def walk_link(self, node: LexborNode) -> None:
        start = self.n
        self.walk(node)
        self.spans[node.mem_id] = (start, self.n)

    def text(self) -> str:
        return "".join(self.parts)


def _flatten(node: LexborNode, sep: str = " ") -> _Text:
    out = _Text(sep)
    out.walk(node)
    return out


def _clean_value(s: str) -> str:
    """Infobox values: list items and line breaks become ``", "``."""
    return _SEPS.sub(", ", s).strip(" ,")


def sentence_at(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding ``text[start:end]``, capped around the span."""
    lo = text.rfind(". ", 0, start)
    lo = 0 if lo < 0 else lo + 2
    hi = text.find(". ", end)
    hi = len(text) if hi < 0 else hi + 1
    if hi - lo > MAX_SENTENCE:  # a run-on "sentence" (lists, tables): a window around the link, whole words
        if start - MAX_SENTENCE // 2 > lo:
            lo = text.find(" ", start - MAX_SENTENCE // 2, start) + 1 or start
        if lo + MAX_SENTENCE < hi:
            hi = text.rfind(" ", end, lo + MAX_SENTENCE)
            hi = hi if hi > 0 else max(end, lo + MAX_SENTENCE)
    return text[lo:hi].strip()


# ---------------------------------------------------------------- the HTML → record function


def infobox_kind(classes: set[str], headers: list[str], keys: set[str]) -> str:
    """A template-like name for an infobox from its shape, since rendered HTML drops the template name.

    Microformat classes and the description row ("Studio album by …", "Single by …") identify the
    common music, film and biography boxes; anything else is plain ``"infobox"`` — a wrong specific
    type would put a seed in the wrong domain, a generic one only leaves it out.
    """
    desc = " ".join(headers).lower()
    if "haudio" in classes:
        return "infobox album"
    if "single by" in desc:  # before "album": singles say "from the album …"
        return "infobox single"
    if re.search(r"\bsong\b", desc):
        return "infobox song"
    if re.search(r"\balbum by\b|\bbox set by\b|\bep by\b", desc):
        return "infobox album"
    if "directed by" in keys:
        return "infobox film"
    if keys & {"created by", "no. of episodes", "no. of seasons", "original network"}:
        return "infobox television"
    if "vcard" in classes and (keys & {"genres", "instruments", "labels", "associated acts"}
                               or "background information" in headers):
        return "infobox musical artist"
    if "vcard" in classes and keys & {"born", "died", "occupation", "nationality"}:
        return "infobox person"
    return "infobox"


@dataclass
class _Infobox:
    kind: str
    fields: dict[str, str]
    links: list[tuple[LexborNode, str, str | None, str]]  # (a, anchor, key, sentence)
    images: list[LexborNode]


def _own_rows(table: LexborNode) -> list[LexborNode]:
    """Rows of ``table`` itself, not of tables nested in its cells (chronology boxes)."""
    rows = []
    for tr in table.css("tr"):
        p = tr.parent
        while p is not None and p.tag != "table":
            p = p.parent
        if p is not None and p.mem_id == table.mem_id:
            rows.append(tr)
    return rows


def _parse_infobox(box: LexborNode) -> _Infobox:
    fields: dict[str, str] = {}
    headers: list[str] = []
    links: list[tuple[LexborNode, str, str | None, str]] = []
    cap = box.css_first("caption")
    name = _flatten(cap).text().strip() if cap is not None else None
    for i, tr in enumerate(_own_rows(box)):
        cells = [c for c in tr.iter() if c.tag in ("th", "td")]
        ths = [c for c in cells if c.tag == "th"]
        tds = [c for c in cells if c.tag == "td"]
        if ths and tds:
            key = _KEY_EDGES.sub("", _flatten(ths[0]).text()).lower()
            flat = _flatten(tds[0], ", ")
            value = _clean_value(flat.text())
            if not key:
                continue
            if value:
                fields[key] = value[:500]
            sentence = f"{key}: {value}"[:MAX_SENTENCE]
            for a in tds[0].css("a"):
                s, e = flat.spans.get(a.mem_id, (0, 0))
                links.append((a, _clean_value(flat.text()[s:e]), key, sentence))
            continue
        row = _flatten(tr)
        text = row.text().strip()
        if ths and not tds:
            if i == 0 and name is None:
                name = text
            else:
                headers.append(text)
        for a in tr.css("a"):
            s, e = row.spans.get(a.mem_id, (0, 0))
            links.append((a, row.text()[s:e].strip(), None, sentence_at(row.text(), s, e)))
    if name:
        name = name.strip(_QUOTES)
        fields.setdefault("name", name)
    classes = set((box.attributes.get("class") or "").split())
    kind = infobox_kind(classes, headers, set(fields))
    return _Infobox(kind, fields, links, box.css("img"))


def _is_icon(img: LexborNode) -> bool:
    sides = []
    for attr in ("width", "height"):
        v = (img.attributes.get(attr) or "").removesuffix("px").strip()
        if v.isdigit():
            sides.append(int(v))
    return len(sides) == 2 and max(sides) < MIN_IMAGE_SIDE


def _caption(img: LexborNode) -> str:
    """Thumbnail caption (``div.thumb … .thumbcaption`` or ``figure > figcaption``), else ''."""
    p = img.parent
    for _ in range(6):
        if p is None:
            return ""
        cls = p.attributes.get("class") or ""
        if p.tag == "figure" or "thumb" in cls.split() or "thumbinner" in cls.split():
            cap = p.css_first(".thumbcaption, figcaption")
            return _flatten(cap).text().strip()[:MAX_SENTENCE] if cap is not None else ""
        p = p.parent
    return ""


def _block_of(a: LexborNode, root: LexborNode) -> LexborNode:
    p = a.parent
    while p is not None and p.mem_id != root.mem_id:
        if p.tag in _BLOCKS:
            return p
        p = p.parent
    return root


def _lead(content: LexborNode) -> list[LexborNode]:
    """Paragraphs before the first section heading (looking one level into a wrapping ``section``)."""
    paras: list[LexborNode] = []
    for child in content.iter():
        if child.tag in ("h2", "h3"):
            break
        if child.tag == "p":
            paras.append(child)
        elif child.tag == "section" and not paras:
            return [c for c in child.iter() if c.tag == "p"]
    return paras


def parse_article(wiki: str, title: str, path: str, html: str | bytes, resolve: Resolver,
                  content_ns: str = "A") -> ParsedArticle:
    """One article's HTML → ``PageRecord`` (pure: the archive is reached only through ``resolve``).

    ``path`` is the article's own ZIM path (hrefs are relative to it); links count only when they
    point into ``content_ns`` and ``resolve`` knows the target.
    """
    tree = LexborHTMLParser(html)
    content = tree.css_first("#mw-content-text") or tree.body
    if content is None:
        raise ValueError("no body in HTML")
    disamb = "(disambiguation)" in title or content.css_first(_DISAMBIG) is not None
    for node in content.css(_NOISE):
        node.decompose()

    def link_target(a: LexborNode) -> str | None:
        target = zim_path(path, a.attributes.get("href") or "")
        if target is None or not target.startswith(f"{content_ns}/"):
            return None
        return resolve(target)

    images: list[ImageRef] = []
    image_paths: dict[str, str] = {}

    def add_image(img: LexborNode, role: ImageRole, caption: str) -> None:
        src = zim_path(path, img.attributes.get("src") or "")
        if src is None or _is_icon(img):
            return
        name = file_name_of(src)
        if name in image_paths:
            return
        image_paths[name] = src
        images.append(ImageRef(name, role, caption))

    kind: str | None = None
    fields: dict[str, str] = {}
    links: list[LinkRecord] = []
    aliases: list[tuple[str, AliasKind]] = []
    box = content.css_first("table.infobox")
    if box is not None:
        ib = _parse_infobox(box)
        kind, fields = ib.kind, ib.fields
        for a, anchor, key, sentence in ib.links:
            target = link_target(a)
            if target:
                links.append(LinkRecord(target, anchor, sentence, key))
        for n, img in enumerate(ib.images):
            cell = img.parent
            while cell is not None and cell.tag not in ("td", "th") and cell.mem_id != box.mem_id:
                cell = cell.parent
            cap = _flatten(cell).text().strip()[:MAX_SENTENCE] if n == 0 and cell is not None else ""
            add_image(img, "infobox", cap)
        box.decompose()
    for node in content.css(_EXCLUDED):
        node.decompose()

    lead_paras = _lead(content)
    paras = [_flatten(p).text().strip() for p in lead_paras]
    lead = "\n".join(p for p in paras if len(p) > 1)[:4000]
    for b in [b for p in lead_paras for b in p.css("b")][:6]:
        alias = _flatten(b).text().strip()
        if 1 < len(alias) <= 120 and (alias, "bold_lead") not in aliases:
            aliases.append((alias, "bold_lead"))
    for key, val in fields.items():
        if key in _NAME_KEYS and 1 < len(val) <= 120 and (val, "infobox_name") not in aliases:
            aliases.append((val, "infobox_name"))

    blocks: dict[int, tuple[str, dict[int, tuple[int, int]]]] = {}  # many links share one paragraph
    for a in content.css("a[href]"):
        target = link_target(a)
        if target is None:
            continue
        block = _block_of(a, content)
        if block.mem_id not in blocks:
            flat = _flatten(block)
            blocks[block.mem_id] = (flat.text(), flat.spans)
        text, spans = blocks[block.mem_id]
        s, e = spans.get(a.mem_id, (0, 0))
        links.append(LinkRecord(target, text[s:e].strip(), sentence_at(text, s, e)))
    for img in content.css("img"):
        add_image(img, "body", _caption(img))

    record = PageRecord(wiki=wiki, title=title, namespace=0, is_disambiguation=disamb, lead_text=lead,
                        infobox_type=kind, infobox=fields, links=tuple(links), aliases=tuple(aliases),
                        images=tuple(images))
    return ParsedArticle(record, image_paths)


# ---------------------------------------------------------------- the archive


def _open(path: Path) -> Archive:
    try:
        return Archive(path)
    except (RuntimeError, OSError, ValueError) as err:
        raise SourceError(f"{path}: not a readable ZIM file ({err})") from None


class _Zim:
    """An archive whose paths read ``<content ns>/<path>`` in both namespace schemes (see the module doc)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.new_scheme = bool(archive.has_new_namespace_scheme)
        self.content_ns = "C" if self.new_scheme else "A"

    def path(self, entry: Entry) -> str:
        """The entry's path in the common form (raises ``UnicodeDecodeError`` for a path that is not UTF-8)."""
        return f"C/{entry.path}" if self.new_scheme else str(entry.path)

    def get(self, path: str) -> Entry | None:
        """The entry at a common-form path, or None when the archive has none there."""
        if self.new_scheme:
            if not path.startswith("C/"):
                return None
            path = path[2:]
        if not self.archive.has_entry_by_path(path):
            return None
        return self.archive.get_entry_by_path(path)

    @property
    def content_entries(self) -> int:
        """How many entries to visit: new-scheme archives number their ``C`` entries first (the rest are
        metadata, well-known and index entries); old-scheme archives have one range for everything."""
        return int(self.archive.entry_count if self.new_scheme else self.archive.all_entry_count)


def _metadata(archive: Archive, key: str) -> str:
    try:
        return bytes(archive.get_metadata(key)).decode("utf-8", "replace").strip()
    except (RuntimeError, KeyError):
        return ""


def wiki_name(archive: Archive, path: Path) -> str:
    """``enwiki`` from the ZIM's ``Name`` (``wikipedia_en_…``), its file name, or its ``Language``."""
    for candidate in (_metadata(archive, "Name"), path.name):
        m = _WIKI_NAME.match(candidate)
        if m:
            return f"{m.group(1).lower().replace('-', '_')}wiki"
    lang = _metadata(archive, "Language").split(",")[0].strip().lower()
    if lang:
        return f"{_ISO3.get(lang, lang)}wiki"
    return "enwiki"


def _final(entry: Entry) -> Entry:
    for _ in range(MAX_REDIRECT_HOPS):
        if not entry.is_redirect:
            return entry
        entry = entry.get_redirect_entry()
    raise ValueError(f"redirect chain longer than {MAX_REDIRECT_HOPS} hops at {entry.path}")


def _is_html(entry: Entry) -> bool:
    return bool(entry.get_item().mimetype.startswith("text/html"))


def _resolver(zim: _Zim) -> Resolver:
    @functools.lru_cache(maxsize=1 << 16)
    def resolve(p: str) -> str | None:
        if not p.startswith(f"{zim.content_ns}/"):
            return None
        try:
            entry = zim.get(p)
            if entry is None or not _is_html(_final(entry)):
                return None
            return entry.title or title_from_path(p)
        except (RuntimeError, KeyError, ValueError):   # ValueError includes a title that is not UTF-8
            return None

    return resolve


def _page(zim: _Zim, entry: Entry, entry_path: str, wiki: str,
          resolve: Resolver) -> ParsedArticle | PageReject | None:
    """One content entry → record; None for entries that are not articles (CSS, JS, images)."""
    try:
        title = entry.title or title_from_path(entry_path)
    except UnicodeDecodeError as err:
        return PageReject(wiki, entry_path, "invalid_title", f"title is not valid UTF-8 ({err.reason} at byte "
                          f"{err.start})")
    try:
        if entry.is_redirect:
            target = _final(entry)
            target_path = zim.path(target)
            if not target_path.startswith(f"{zim.content_ns}/") or not _is_html(target):
                return None
            red = PageRecord(wiki=wiki, title=title, namespace=0,
                             redirect_target=target.title or title_from_path(target_path))
            return ParsedArticle(red)
        item = entry.get_item()
        if not item.mimetype.startswith("text/html"):
            return None
        html = bytes(item.content)
    except (RuntimeError, KeyError, ValueError) as err:
        return PageReject(wiki, title, "read_error", f"{type(err).__name__}: {err}"[:500])
    try:
        return parse_article(wiki, title, entry_path, html, resolve, zim.content_ns)
    except Exception as err:  # one odd page must not stop a 6 M-article archive
        return PageReject(wiki, title, "parse_error", f"{type(err).__name__}: {err}"[:500])


def _blob(zim: _Zim, wiki: str, zim_name: str, name: str, src: str) -> ImageBlob | PageReject | None:
    try:
        entry = zim.get(src)
        if entry is None:
            return PageReject(wiki, f"File:{name}", "missing_file", f"{src!r} not in {zim_name}")
        item = _final(entry).get_item()
        if not item.mimetype.startswith("image/"):
            return None  # e.g. a video poster pointing at an .ogg: nothing to decode
        data = bytes(item.content)
    except (RuntimeError, KeyError, ValueError) as err:
        return PageReject(wiki, f"File:{name}", "read_error", f"{type(err).__name__}: {err}"[:500])
    meta = ImageMeta(name, source_url=f"zim://{src}", description=f"from ZIM {zim_name}, licence unknown")
    return ImageBlob(wiki, meta, data)


def read_zim(path: Path, *, batch_pages: int = 50) -> Iterator[list[Record]]:
    """Stream a ZIM as batches of at most ``batch_pages`` records; each page batch is followed by the
    bytes of the images its pages use that were not sent before (one blob per file name).

    Raises:
        SourceError: the file is not a ZIM or cannot be opened.
    """
    archive = _open(path)
    zim = _Zim(archive)
    wiki = wiki_name(archive, path)
    resolve = _resolver(zim)
    sent: set[str] = set()
    batch: list[Record] = []
    wanted: dict[str, str] = {}

    def images() -> Iterator[list[Record]]:
        out: list[Record] = []
        for name, src in wanted.items():
            blob = _blob(zim, wiki, path.name, name, src)
            if blob is not None:
                out.append(blob)
            if len(out) >= batch_pages:
                yield out
                out = []
        wanted.clear()
        if out:
            yield out

    for i in range(zim.content_entries):
        entry = archive._get_entry_by_id(i)
        try:
            entry_path = zim.path(entry)
        except UnicodeDecodeError as err:
            batch.append(PageReject(wiki, f"zim entry #{i}", "invalid_path",
                                    f"entry path is not valid UTF-8 ({err.reason} at byte {err.start})"))
            continue
        if not entry_path.startswith(f"{zim.content_ns}/"):
            continue
        rec = _page(zim, entry, entry_path, wiki, resolve)
        if rec is None:
            continue
        if isinstance(rec, ParsedArticle):
            batch.append(rec.record)
            for name, src in rec.image_paths.items():
                if name not in sent:
                    sent.add(name)
                    wanted[name] = src
        else:
            batch.append(rec)
        if len(batch) >= batch_pages:
            yield batch
            batch = []
            yield from images()
    if batch:
        yield batch
    yield from images()
    log.info("read %s (%s namespace scheme): %d entries, %d image files", path,
             "new" if zim.new_scheme else "old", zim.content_entries, len(sent))
