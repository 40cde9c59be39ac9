"""Relation phrases for link edges: what the source page says about the page it links to.

An edge carries a relation only when one of these reads it (otherwise the walk may not use it):

- **infobox key**: the link sits under an infobox key that ``infobox_relations.tsv`` maps to a phrase (DBpedia
  Mappings Wiki, CC BY-SA 3.0, see that file; regenerate with ``scripts/build_infobox_relations.py``):
  ``producer`` → "the producer of X";
- **sentence predicate**: the sentence opens with the source page as subject (its name, its surname, or "He",
  "It", "The album" …) followed by a short verb phrase ending at the link: "Charles signed with [Atlantic
  Records]" → "the record label that X signed with";
- **chronology**: an infobox chronology line "A (1961) B (1961) C (1962)" on page B → "the album released just
  before X" / "just after X";
- **from the album**: a song's infobox line "from the album A" → "the album that includes X".

A relation is stored as a clause template with ``{x}`` where the previous node's description goes and
``{noun}`` where the target's type noun goes; ``render_relation`` turns it into "the producer of X" (short) or
"that is the producer of X" (after a fact: "the person whose … and who is the producer of X").
Link positions ("linked after …", "mentioned in the article on …") are not relations.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("infobox_relations.tsv")
_YEAR_ITEM = r"\s*\((?:\d{4}|\d{4}[–-]\d{2,4})\)"
_YEAR_ITEMS = re.compile(_YEAR_ITEM)
_CLOSE_QUOTE = r"[\"”’']*"
_SUBJECT_PRONOUNS = ("he", "she", "it", "they", "the song", "the album", "the film", "the single", "the band",
                     "the group", "the show", "the series", "the record", "the book", "the musical")
_ADVERBS = frozenset({"also", "later", "then", "first", "subsequently", "eventually", "briefly", "originally",
                      "soon", "again", "famously", "primarily", "mainly", "once", "initially", "finally"})
_VERBS = frozenset("""is was are were has had joined signed recorded released wrote co-wrote produced directed
founded formed married won received starred appeared performed sang covered toured left moved attended
became played features featured includes included contains contained replaced succeeded preceded followed
headed led owned owns created composed arranged hosted co-founded studied taught influenced met worked
returned reached peaked topped debuted charted adapted inspired based""".split())  # noqa: SIM905
_PREPOSITIONS = frozenset({"to", "with", "for", "by", "on", "in", "at", "from", "into", "of", "as", "under",
                           "about", "after", "before", "against", "alongside", "over", "onto"})
_DETERMINERS = frozenset({"the", "a", "an", "his", "her", "its", "their"})
_BAD_PRED = re.compile(r"[,;:()\"“”\[\]–—]|\d")


@cache
def infobox_phrases() -> dict[str, str]:
    """Normalised infobox key → relation phrase (the generated, reviewed table)."""
    out: dict[str, str] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("key\t") or not line.strip():
            continue
        key, _prop, phrase, _n = line.split("\t")
        out[key] = phrase
    return out


def normalise_key(key: str) -> str:
    """``Birth_place`` / ``writer(s)`` / ``associated_acts2`` → ``birth place`` / ``writer`` / ``associated acts``."""
    k = re.sub(r"\(s\)|[^a-z ]", " ", key.lower().replace("_", " ").replace("-", " "))
    return re.sub(r"\s+", " ", k).strip()


def infobox_relation(key: str) -> str | None:
    k = normalise_key(key)
    phrases = infobox_phrases()
    phrase = phrases.get(k) or (phrases.get(k[:-1]) if k.endswith("s") else None)
    return f"that is the {phrase} of {{x}}" if phrase else None


def _subject_end(prefix: str, source: str) -> int | None:
    """Where the subject (the source page) ends at the start of ``prefix``, or None."""
    bare = re.sub(r"\s*\([^)]*\)$", "", source).strip()
    names = [source, bare]
    words = bare.split()
    if len(words) >= 2 and words[-1][:1].isupper():
        names.append(words[-1])                       # "Charles" for Ray Charles
    low = prefix.lower()
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        for form in (f'"{name}"', name):
            if low.startswith(form.lower()) and (len(prefix) == len(form) or not prefix[len(form)].isalnum()):
                return len(form)
    for pron in _SUBJECT_PRONOUNS:
        if low.startswith(pron + " "):
            return len(pron)
    return None


_CLAUSE_START = re.compile(r"(?:^|[;:]\s+|,\s+(?:and|but|then)\s+|^(?:In|By|From|On|After) [^,]{1,30},\s+)")
_BORDER = re.compile(r"\bbordered by\b[^.]*?(?P<a>{a})\s+to the (?P<d>north|south|east|west|northeast|northwest|"
                     r"southeast|southwest)\b|\bbordered by\b[^.]*?(?P<b>{a})\s+to (?P<e>north|south|east|west)\b")


def border_relation(anchor: str, sentence: str) -> str | None:
    """"… is bordered by A to the north, …, and the Atlantic Ocean to the west" → ``that borders {x} to the west``."""
    if not anchor or "bordered by" not in sentence:
        return None
    m = re.search(_BORDER.pattern.replace("{a}", re.escape(anchor)), sentence)
    if m is None:
        return None
    return f"that borders {{x}} to the {m.group('d') or m.group('e')}"


def sentence_relation(source: str, anchor: str, sentence: str) -> str | None:
    """"<source> <verb phrase> <anchor>" at the start of a clause → ``that {x} <verb phrase>``."""
    pos = sentence.find(anchor) if anchor else -1
    if pos <= 0:
        return None
    head = sentence[:pos].rstrip(" \"“'‘")
    for start in sorted({m.end() for m in _CLAUSE_START.finditer(head)}, reverse=True):
        rel = _predicate(head[start:], source)
        if rel:
            return rel
    return None


def _predicate(prefix: str, source: str) -> str | None:
    end = _subject_end(prefix, source)
    if end is None:
        return None
    words = prefix[end:].split()
    while words and words[-1].lower() in _DETERMINERS:
        words.pop()
    if not 1 <= len(words) <= 6 or _BAD_PRED.search(" ".join(words)):
        return None
    if any(w[:1].isupper() for w in words):           # a name inside the predicate: not a plain relation
        return None
    head = [w.lower() for w in words if w.lower() not in _ADVERBS]
    if not head or not (head[0] in _VERBS or head[0].endswith("ed")):
        return None
    if not (head[-1] in _PREPOSITIONS or head[-1] in _VERBS or head[-1].endswith("ed")):
        return None                                   # "is included on the albums": ends inside a noun phrase
    return "that {x} " + " ".join(w.lower() for w in words)


def chronology_relation(source: str, anchor: str, sentence: str) -> str | None:
    """An infobox chronology "A (1961) B (1961) C (1962)" on page B: A came just before B, C just after."""
    if not anchor or len(_YEAR_ITEMS.findall(sentence)) != 3:
        return None
    bare = re.sub(r"\s*\([^)]*\)$", "", source).strip()
    me = re.search(re.escape(bare) + _CLOSE_QUOTE + _YEAR_ITEM, sentence)      # singles: "Title" (1955)
    other = re.search(re.escape(anchor) + _CLOSE_QUOTE + _YEAR_ITEM, sentence)
    if me is None or other is None or other.start() == me.start():
        return None
    return "that was released just after {x}" if other.start() > me.start() else \
        "that was released just before {x}"


def from_album_relation(anchor: str, sentence: str) -> str | None:
    """A song's infobox line "from the album A" → ``that includes {x}`` (A includes the song)."""
    if not anchor or sentence.lstrip()[:9].lower() != "from the ":
        return None
    pattern = r"\s*from the (?:album|LP|EP|soundtrack)\s+" + re.escape(anchor) + r"\s*"
    return "that includes {x}" if re.fullmatch(pattern, sentence, re.IGNORECASE) else None


def edge_relation(source: str, anchor: str, sentence: str, infobox_key: str | None) -> tuple[str, str] | None:
    """``(clause template, method)`` for one edge, or None when nothing reads it as a relation."""
    if infobox_key:
        rel = infobox_relation(infobox_key)
        return (rel, "infobox_key") if rel else None
    for method, rel in (("chronology", chronology_relation(source, anchor, sentence)),
                        ("sentence_context", border_relation(anchor, sentence)),
                        ("infobox_key", from_album_relation(anchor, sentence)),
                        ("sentence_context", sentence_relation(source, anchor, sentence))):
        if rel:
            return rel, method
    return None


def render_relation(clause: str, x: str, noun: str, fact: str | None = None) -> str:
    """The target's description: "the producer of X" / "the record label that X signed with"; with a fact
    "the person whose date of birth is 1933 and who is the producer of X"."""
    rel = clause.replace("{x}", x)
    that = "who" if noun == "person" and not clause.startswith("that {x}") else "that"   # object relatives: that
    if rel.startswith("that "):
        rel = f"{that} {rel[5:]}"
    if fact:
        return f"the {noun} {fact} and {rel}"
    if rel.startswith(f"{that} is the "):
        return rel[len(that) + 4:]
    if rel.startswith(f"{that} was ") and rel.split()[2].endswith("ed"):   # reduced: "the album released just …"
        return f"the {noun} {rel[len(that) + 5:]}"
    return f"the {noun} {rel}"
