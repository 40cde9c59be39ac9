"""Wikitext → ``PageRecord``: lead text, infobox, links with anchor text and sentence, images, aliases.

Speed matters (full English Wikipedia is ~7 M articles), so mwparserfromhell (C tokenizer) parses only
the lead section (with its plain links already replaced by their text); the infobox is split into its
parameters by ``split_template`` (brace, link, comment and tag matching: the same parameters as
mwparserfromhell's tree without building it), and links and image references come from one regex pass
over the raw text. The naive alternative (parse every page whole) is the baseline in
``benchmarks/ingest.py``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, replace

import mwparserfromhell

from schemas.pages import AliasKind, ImageRef, LinkRecord, PageRecord, PageReject


@dataclass(frozen=True, slots=True)
class Namespaces:
    """Namespace names of one wiki (from the dump's ``<siteinfo>``), lower-cased, without colon."""

    by_name: dict[str, int]

    @classmethod
    def english(cls) -> Namespaces:
        names = {"talk": 1, "user": 2, "user talk": 3, "wikipedia": 4, "project": 4, "file": 6, "image": 6,
                 "mediawiki": 8, "template": 10, "help": 12, "category": 14, "portal": 100, "draft": 118,
                 "module": 828, "media": -2, "special": -1, "timedtext": 710, "book": 108}
        return cls(names)

    def split(self, title: str) -> tuple[int, str]:
        """``("File:X.jpg") -> (6, "X.jpg")``; ``("Foo") -> (0, "Foo")``."""
        if ":" in title:
            prefix, rest = title.split(":", 1)
            ns = self.by_name.get(prefix.strip().lower().replace("_", " "))
            if ns is not None:
                return ns, rest.strip()
        return 0, title


_INFOBOX_START = re.compile(
    r"\{\{\s*(infobox|taxobox|speciesbox|automatic[ _]taxobox|subspeciesbox|infoskreine)\b", re.IGNORECASE
)
_DISAMBIG = re.compile(
    r"\{\{\s*(disambiguation|disambig|dab|hndis|geodis|surname|given name|set index)\s*[|}]", re.IGNORECASE
)
_LINK = re.compile(r"\[\[([^\[\]|{}<>]*)(?:\|((?:[^\[\]]|\[\[[^\[\]]*\]\])*))?\]\]")
_HEADING = re.compile(r"^==[^=].*?==\s*$", re.MULTILINE)
_BOLD = re.compile(r"'''(?!')(.+?)(?<!')'''")
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.DOTALL | re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|.*?\|\}", re.DOTALL)
_WS = re.compile(r"\s+")
_PLAIN = re.compile(r"[^<{\['&]*")
_BRACES = re.compile(r"\{\{|\}\}")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_INTERWIKI = re.compile(r"^[a-z][a-z-]{1,11}$")
_IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|svg|tiff?|webp|bmp)$", re.IGNORECASE)
_IMAGE_KEY = re.compile(r"^(image|img|logo|cover|photo|picture|image_flag|flag|image_skyline|image_map|map)"
                        r"(\d*|_?name)?$", re.IGNORECASE)
_NAME_KEYS = ("name", "common_name", "conventional_long_name", "official_name", "birth_name", "fullname",
              "full_name", "native_name", "other_names", "nickname")
MAX_SENTENCE = 400
MAX_TEMPLATE_DEPTH = 100


class BrokenMarkup(ValueError):
    """The page's infobox template never closes."""


#: Characters MediaWiki never allows in a title (``$wgLegalTitleChars``); the XML reader has already
#: turned undecodable bytes into U+FFFD, which is rejected too.
_ILLEGAL_TITLE_CHARS = frozenset("<>[]{}|\ufffd")
MAX_TITLE_BYTES = 255  # MediaWiki's limit on a title's UTF-8 length


def title_problem(title: str) -> str | None:
    """Why ``title`` cannot be a page title (one line naming the first bad character), or None.

    Rejected: empty titles, titles over 255 UTF-8 bytes, control characters (C0, DEL, C1), lone
    surrogates (undecodable bytes smuggled through ``surrogateescape``), private-use characters,
    U+FFFD (invalid UTF-8 in the source) and the characters MediaWiki forbids (``<>[]{}|``).
    """
    if not title.strip():
        return "empty title"
    for i, ch in enumerate(title):
        cat = unicodedata.category(ch)
        if ch == "\ufffd":
            return f"invalid UTF-8 in the title (U+FFFD at position {i})"
        if cat in ("Cc", "Cs", "Co"):
            kind = {"Cc": "control character", "Cs": "lone surrogate", "Co": "private-use character"}[cat]
            return f"title has a {kind} U+{ord(ch):04X} at position {i}"
        if ch in _ILLEGAL_TITLE_CHARS:
            return f"title has the character {ch!r} that MediaWiki forbids, at position {i}"
    size = len(title.encode("utf-8", "surrogatepass"))
    if size > MAX_TITLE_BYTES:
        return f"title is {size} UTF-8 bytes, over MediaWiki's {MAX_TITLE_BYTES}"
    return None


def printable_title(title: str, limit: int = 300) -> str:
    """``title`` safe to store and show in one line: control, surrogate and private-use characters as
    ``\\uXXXX`` escapes (a lone surrogate cannot even be encoded for the warehouse), capped."""
    out = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cs", "Co") else ch for ch in title)
    return out if len(out) <= limit else out[:limit] + "…"


def normalise_title(raw: str) -> str:
    """MediaWiki title normalisation: underscores to spaces, collapse spaces, first letter upper."""
    t = _WS.sub(" ", raw.replace("_", " ")).strip()
    return t[:1].upper() + t[1:] if t else t


def _template_end(text: str, start: int) -> int:
    """Index just past the ``}}`` closing the template opened at ``start`` (bracket matching). Scans brace
    pairs with a regex (the same left-to-right pairing as a character loop, ``{{`` first; 1.8 of 30 s of a
    profiled ingest went to that loop)."""
    depth = 0
    for m in _BRACES.finditer(text, start):
        if m.group() == "{{":
            depth += 1
            if depth > MAX_TEMPLATE_DEPTH:   # real pages nest a handful deep; this is a bomb for the parser
                raise BrokenMarkup(f"templates nested more than {MAX_TEMPLATE_DEPTH} deep at offset {m.start()}")
            continue
        depth -= 1
        if depth == 0:
            return m.end()
    raise BrokenMarkup(f"unclosed template starting at offset {start}")


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_DATE_TEMPLATES = {"start date", "end date", "birth date", "death date", "birth date and age",
                   "death date and age", "start date and age", "film date", "release date", "dts",
                   "date", "birth-date", "death-date", "start-date", "end-date"}
_LIST_TEMPLATES = {"plainlist", "plain list", "ubl", "unbulleted list", "hlist", "flatlist", "flat list",
                   "collapsible list", "bulleted list", "ublist"}
_WRAP_TEMPLATES = {"nowrap", "nobr", "small", "big", "lang", "nowrap begin", "avoid wrap", "abbr",
                   "native name", "transl", "okina"}

_DASH_TEMPLATES = {"ndash": "–", "mdash": "—", "snd": " – ", "spaced ndash": " – ", "spnd": " – ", "sndash": " – ",
                   "spaced en dash": " – ", "en dash": "–", "em dash": "—", "nbsp": " ", "-": "–"}

_PIPE_OUTSIDE_LINKS = re.compile(r"\|(?![^\[]*\]\])")


def _render_template(body: str) -> str:
    """Text of one innermost template (``body`` is between the braces); unknown ones vanish."""
    parts = [p.strip() for p in _PIPE_OUTSIDE_LINKS.split(body)]
    name = parts[0].lower().replace("_", " ")
    args = [p for p in parts[1:] if "=" not in p or p.split("=", 1)[0].strip().isdigit()]
    args = [a.split("=", 1)[1].strip() if "=" in a else a for a in args]
    if name in _DATE_TEMPLATES:
        nums = [a for a in args if a.isdigit()][:3]
        if len(nums) == 3 and 1 <= int(nums[1]) <= 12:
            return f"{int(nums[2])} {_MONTHS[int(nums[1]) - 1]} {nums[0]}"
        if len(nums) == 2 and 1 <= int(nums[1]) <= 12:
            return f"{_MONTHS[int(nums[1]) - 1]} {nums[0]}"
        return nums[0] if nums else ""
    if name in ("convert", "cvt") and len(args) >= 2:
        return f"{args[0]} {args[1]}" if args[1] not in ("-", "to", "and", "–") else " ".join(args[:4])
    if name in _LIST_TEMPLATES:
        items = [a.lstrip("*").strip() for a in (args if len(args) != 1 else args[0].split("\n"))]
        return ", ".join(i for i in items if i)
    if name in _WRAP_TEMPLATES:
        return args[-1] if args else ""
    return _DASH_TEMPLATES.get(name, "")


def render_templates(fragment: str) -> str:
    """Replace templates innermost-first with their readable text (dates, conversions, lists)."""
    s = fragment
    for _ in range(6):
        s2 = _TEMPLATE.sub(lambda m: _render_template(m.group(0)[2:-2]), s)
        if s2 == s:
            break
        s = s2
    return s


def quick_clean(fragment: str) -> str:
    """Cheap markup stripping for short spans (sentences, captions, infobox values): templates
    rendered or dropped, links → their text, refs, comments, tags and quotes removed."""
    if _PLAIN.fullmatch(fragment):    # most anchors and many sentences: no markup, only spacing to fix
        return _WS.sub(" ", fragment).strip(" ,")
    s = _COMMENT.sub("", fragment)
    s = _REF.sub("", s)
    s = _BR.sub(", ", s)
    s = render_templates(s) if "{{" in s else s
    s = _LINK.sub(lambda m: (m.group(2) or m.group(1)).split("|")[-1], s)
    s = _TAG.sub("", s).replace("'''", "").replace("''", "").replace("[[", "").replace("]]", "")
    s = html.unescape(s) if "&" in s else s
    return _WS.sub(" ", s).strip(" ,")


def _sentence_around(text: str, start: int, end: int, cache: dict[tuple[int, int], str]) -> str:
    """The sentence (or line) containing ``text[start:end]``, cleaned and capped; ``cache`` holds
    sentences already cleaned for this page (many links share one)."""
    lo = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start), start - 600)
    hi_candidates = [i for i in (text.find(". ", end), text.find("\n", end)) if i != -1]
    hi = min([*hi_candidates, end + 600])
    key = (lo, hi)
    if key not in cache:
        cache[key] = quick_clean(text[lo + 1:hi + 1])[:MAX_SENTENCE]
    return cache[key]


def _file_name(value: str, ns: Namespaces) -> str | None:
    """An image file name from an infobox value or link target (``File:`` prefix and markup removed)."""
    v = quick_clean(_LINK.sub(lambda m: m.group(1), value)) if "[[" in value else value
    v = _COMMENT.sub("", v).strip().split("|")[0].strip()
    nsid, rest = ns.split(v)
    name = normalise_title(rest if nsid == 6 else v)
    return name if _IMAGE_EXT.search(name) else None


_SPLIT_TOKEN = re.compile(
    r"\{\{|\}\}|\[\[|\]\]|\||="
    r"|<!--.*?(?:-->|\Z)"                                 # comments
    r"|<([a-zA-Z][a-zA-Z0-9]*)\b[^<>]*(?<!/)>.*?</\1\s*>"   # a paired tag with its contents
    r"|</?[a-zA-Z][^<>]*>"                                  # a lone tag
    r"|'{2,5}(?!').*?'{2,5}",                                # a bold/italic span
    re.DOTALL)


def split_template(block: str) -> tuple[str, list[tuple[str, str]]]:
    """``{{name|a|k = v}}`` → ``("name", [("1", "a"), ("k", " v")])``: the template's name and its parameters
    (key stripped, raw value), split at the pipes and the first ``=`` that sit at the template's own level.

    Nested templates and links, comments and the tags MediaWiki keeps opaque (``<ref>``, ``<nowiki>``, …) do
    not split, nor do paired tags and bold/italic spans for the ``=`` of a key. This is mwparserfromhell's
    ``Template.params`` (equal on all 60k+ templates of the fixture dumps' articles;
    ``tests/unit/test_split_template.py``) without building its node tree, which was half of a single-process
    ingest's time on infobox-heavy pages. One known difference: an unclosed ``''`` inside a paired tag
    (``<small>x''</small>``) makes mwparserfromhell run an italic span over the following parameters; here the
    tag closes it, as on the rendered page."""
    body = block[2:-2] if block.startswith("{{") and block.endswith("}}") else block
    parts: list[tuple[int, int, int]] = []      # (start, end, position of the top-level "=" or -1)
    depth = links = 0
    start, eq = 0, -1
    for m in _SPLIT_TOKEN.finditer(body):
        tok = m.group()
        if tok == "{{":
            depth += 1
        elif tok == "}}":
            depth = max(0, depth - 1)
        elif tok == "[[":
            links += 1
        elif tok == "]]":
            links = max(0, links - 1)
        elif depth or links:
            continue
        elif tok == "|":
            parts.append((start, m.start(), eq))
            start, eq = m.end(), -1
        elif tok == "=" and eq < 0 and parts:
            eq = m.start()
    parts.append((start, len(body), eq))
    name = body[parts[0][0]:parts[0][1]]
    params: list[tuple[str, str]] = []
    positional = 0
    for lo, hi, at in parts[1:]:
        if at < 0:
            positional += 1
            params.append((str(positional), body[lo:hi]))
        else:
            params.append((body[lo:at].strip(), body[at + 1:hi]))
    return name, params


def _parse_infobox(block: str, ns: Namespaces) -> tuple[str, dict[str, str], list[LinkRecord], list[ImageRef]]:
    name, params = split_template(block)
    kind = quick_clean(name).lower().replace("_", " ")
    fields: dict[str, str] = {}
    links: list[LinkRecord] = []
    images: list[ImageRef] = []
    for key, raw in params:
        if _IMAGE_KEY.match(key):
            fname = _file_name(raw, ns)
            if fname:
                images.append(ImageRef(fname, "infobox", ""))
            continue
        value = quick_clean(raw)
        if value:
            fields[key] = value[:500]
        for m in _LINK.finditer(raw):
            nsid, target = ns.split(m.group(1).split("#")[0])
            if nsid == 0 and target.strip():
                anchor = quick_clean(m.group(2) or m.group(1))
                links.append(LinkRecord(normalise_title(target), anchor, f"{key}: {value}"[:MAX_SENTENCE], key))
    if "caption" in fields and images:
        images[0] = ImageRef(images[0].file_name, "infobox", fields["caption"])
    return kind, fields, links, images


def _link_text(m: re.Match[str], ns: Namespaces) -> str:
    """What ``strip_code`` keeps of a plain wikilink (its text, else its target); links to files and
    categories, and links with links inside, are left for the parser."""
    target, text = m.group(1), m.group(2)
    if (text is not None and "[[" in text) or ns.split(target.strip().lstrip(":"))[0] in (6, 14):
        return m.group(0)
    return target if text is None else text


def _lead_text(lead_raw: str, ns: Namespaces, *, link_shortcut: bool = True) -> str:
    """The lead section as plain text. With ``link_shortcut`` plain links are replaced by their text before
    parsing: the text ``strip_code`` keeps, without building a node per link (most of a lead's parse time;
    the same output on every fixture page, ``tests/unit/test_split_template.py``)."""
    pre = render_templates(_REF.sub("", _TABLE.sub("", lead_raw)))
    if link_shortcut and "[[" in pre:
        pre = _LINK.sub(lambda m: _link_text(m, ns), pre)
    code = mwparserfromhell.parse(pre)
    for link in code.filter_wikilinks(recursive=False):   # images and categories are not lead text
        if ns.split(str(link.title).strip().lstrip(":"))[0] in (6, 14):
            code.remove(link)
    text = html.unescape(code.strip_code(normalize=True, collapse=True, keep_template_params=False))
    paras = [_WS.sub(" ", p).strip() for p in text.split("\n")]
    return "\n".join(p for p in paras if len(p) > 1)[:4000]


def _body_links(text: str, ns: Namespaces, skip: tuple[int, int] | None,
                ) -> tuple[list[LinkRecord], list[ImageRef]]:
    links: list[LinkRecord] = []
    images: list[ImageRef] = []
    sentences: dict[tuple[int, int], str] = {}
    for m in _LINK.finditer(text):
        if skip and skip[0] <= m.start() < skip[1]:
            continue
        raw_target = m.group(1)
        if raw_target.startswith(":"):
            raw_target = raw_target[1:]
        nsid, target = ns.split(raw_target.split("#")[0])
        if nsid == 6:
            caption = quick_clean((m.group(2) or "").split("|")[-1])
            fname = _file_name(target, ns)
            if fname:
                images.append(ImageRef(fname, "body", caption[:MAX_SENTENCE]))
            continue
        if nsid != 0 or not target.strip():
            continue
        prefix = target.split(":", 1)[0] if ":" in target else ""
        if prefix and _INTERWIKI.match(prefix):
            continue  # interlanguage / interwiki link
        anchor = quick_clean(m.group(2) or target)
        links.append(LinkRecord(normalise_title(target), anchor, _sentence_around(text, m.start(), m.end(), sentences)))
    return links, images


def parse_page(wiki: str, title: str, namespace: int, text: str, ns: Namespaces, *,
               page_id: int | None = None, revision_id: int | None = None,
               timestamp: str | None = None, redirect: str | None = None) -> PageRecord | PageReject:
    """Parse one page. Never raises: a page that cannot be parsed comes back as a ``PageReject``."""
    problem = title_problem(title)
    if problem:
        return PageReject(wiki, printable_title(title), "invalid_title", problem)
    try:
        return _parse(wiki, title, namespace, text, ns, page_id, revision_id, timestamp, redirect)
    except BrokenMarkup as err:
        return PageReject(wiki, title, "broken_template", str(err))
    except Exception as err:  # a parser bug on one page must not stop a 7 M-page dump
        return PageReject(wiki, title, "parse_error", f"{type(err).__name__}: {err}"[:500])


def _parse(wiki: str, title: str, namespace: int, text: str, ns: Namespaces, page_id: int | None,
           revision_id: int | None, timestamp: str | None, redirect: str | None) -> PageRecord:
    head = PageRecord(wiki=wiki, title=title, namespace=namespace, page_id=page_id, revision_id=revision_id,
                      revision_timestamp=timestamp)
    if redirect is None and text.lstrip()[:9].upper() == "#REDIRECT":
        m = _LINK.search(text)
        redirect = m.group(1) if m else None
    if redirect is not None:
        return replace(head, redirect_target=normalise_title(redirect.split("#")[0]))
    if namespace != 0:
        return head
    disamb = "(disambiguation)" in title or bool(_DISAMBIG.search(text))
    kind: str | None = None
    fields: dict[str, str] = {}
    box_links: list[LinkRecord] = []
    images: list[ImageRef] = []
    span = None
    m = _INFOBOX_START.search(text)
    if m:
        end = _template_end(text, m.start())
        span = (m.start(), end)
        kind, fields, box_links, images = _parse_infobox(text[m.start():end], ns)
    body_links, body_images = _body_links(text, ns, span)
    heading = _HEADING.search(text)
    lead_raw = text[: heading.start() if heading else len(text)]
    if span and span[0] < len(lead_raw):
        lead_raw = lead_raw[: span[0]] + lead_raw[span[1]:]
    lead = _lead_text(lead_raw, ns)
    aliases: list[tuple[str, AliasKind]] = []
    for b in _BOLD.findall(lead_raw[:3000])[:6]:
        alias = quick_clean(b)
        if 1 < len(alias) <= 120:
            aliases.append((alias, "bold_lead"))
    for key in _NAME_KEYS:
        val = fields.get(key)
        if val and 1 < len(val) <= 120:
            aliases.append((val, "infobox_name"))
    return replace(head, is_disambiguation=disamb, lead_text=lead, infobox_type=kind, infobox=fields,
                      links=tuple(box_links + body_links), aliases=tuple(aliases),
                      images=tuple(images + body_images))
