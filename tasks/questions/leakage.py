"""Non-leakage: does a question mention any name or alias of any node on its path?

Three detectors, all over diacritic-folded, case-folded text so "Algérie", "ALGERIA" and
"Algeria's" all count:

- exact: spaCy ``PhraseMatcher`` on token boundaries (the tokenizer splits possessives);
- partial: proper-name tokens of multi-word aliases ("Irwin" from "Steve Irwin"), skipping
  generic words ("Republic", "University", …);
- fuzzy: rapidfuzz ratio ≥ threshold between an alias and any token window of similar length
  (misspellings: "Algeriya").

Aliases shorter than 3 characters match only exactly and case-sensitively ("A" the article must
not match the word "a").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from rapidfuzz import fuzz

if TYPE_CHECKING:
    from spacy.language import Language

LeakKind = Literal["exact", "partial", "fuzzy"]
_ELISION = re.compile(r"\b(\w{1,2}['’])(?=\w{3})")      # l'Algérie, d'Alger → separate tokens
_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
GENERIC = frozenset("""the and for with from republic kingdom united states state people democratic federal
national university college city county river lake mount mountain island islands saint north south east west
new old great little royal church school company group party army navy air force football club film album song
album book series season war battle empire province
after before under over into about between region district department ministry council""".split())  # noqa: SIM905


@dataclass(frozen=True, slots=True)
class Leak:
    title: str          # the path node whose alias leaked
    alias: str
    kind: LeakKind
    span: str           # what matched in the question
    score: float


def fold(text: str) -> str:
    """Strip diacritics and case: ``"Algérie" → "algerie"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@cache
def _nlp() -> Language:
    """spaCy's blank English tokenizer, imported on first use: spaCy pulls in torch (about 4 s), which every
    process importing the question stage (the CLI, each shard) would otherwise pay."""
    import spacy

    return spacy.blank("en")


def alias_variants(alias: str) -> set[str]:
    """The alias plus its form without a trailing parenthetical ("Mercury (planet)" → "Mercury")."""
    out = {alias.strip()}
    bare = _PAREN.sub("", alias).strip()
    if bare:
        out.add(bare)
    return {a for a in out if a}


def partial_names(alias: str) -> set[str]:
    """Proper-name tokens of a multi-word alias, e.g. {"Steve", "Irwin"} from "Steve Irwin"."""
    words = re.findall(r"[^\W\d_][\w'’-]*", alias)
    if len(words) < 2:
        return set()
    return {w for w in words if w[:1].isupper() and len(w) >= 4 and fold(w) not in GENERIC}


class LeakChecker:
    """Finds aliases of the given nodes in text. Build once per path (or per batch of paths)."""

    def __init__(self, aliases: Mapping[str, Iterable[str]], fuzzy_threshold: float = 90.0) -> None:
        self.threshold = fuzzy_threshold
        from spacy.matcher import PhraseMatcher

        nlp = _nlp()
        self._matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._short: list[tuple[str, str]] = []
        self._fuzzy: list[tuple[str, str, str]] = []   # (title, alias, folded alias)
        self._keys: dict[str, tuple[str, str, LeakKind]] = {}
        for title, names in aliases.items():
            for name in {v for a in [title, *names] for v in alias_variants(a)}:
                if len(name) < 3:
                    self._short.append((title, name))
                    continue
                self._add(title, name, name, "exact")
                self._fuzzy.append((title, name, fold(name)))
                for part in partial_names(name):
                    self._add(title, name, part, "partial")

    def _add(self, title: str, alias: str, phrase: str, kind: LeakKind) -> None:
        key = f"{kind}:{title}:{alias}:{phrase}"
        self._keys[key] = (title, alias, kind)
        self._matcher.add(key, [_nlp().make_doc(fold(phrase))])

    def find(self, text: str) -> list[Leak]:
        """Every leak in ``text`` (empty list = clean)."""
        folded = _ELISION.sub(r"\1 ", fold(text))
        doc = _nlp().make_doc(folded)
        leaks: dict[tuple[str, str, LeakKind], Leak] = {}
        for match_id, start, end in self._matcher(doc):
            title, alias, kind = self._keys[_nlp().vocab.strings[match_id]]
            leaks.setdefault((title, alias, kind), Leak(title, alias, kind, doc[start:end].text, 100.0))
        for title, alias in self._short:
            if re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", text):
                leaks.setdefault((title, alias, "exact"), Leak(title, alias, "exact", alias, 100.0))
        if not leaks:
            for leak in self._fuzzy_leaks([t.text for t in doc if not t.is_punct]):
                leaks.setdefault((leak.title, leak.alias, "fuzzy"), leak)
        return sorted(leaks.values(), key=lambda x: (x.title, x.alias, x.kind))

    def _fuzzy_leaks(self, tokens: list[str]) -> Iterable[Leak]:
        for title, alias, folded in self._fuzzy:
            if len(folded) < 5:
                continue
            n = len(folded.split())
            for width in {max(1, n - 1), n, n + 1}:
                for i in range(0, max(len(tokens) - width + 1, 0)):
                    window = " ".join(tokens[i:i + width])
                    score = fuzz.ratio(window, folded)
                    if score >= self.threshold:
                        yield Leak(title, alias, "fuzzy", window, float(score))
                        break
