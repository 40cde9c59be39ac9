"""Leakage guard: drop search results that quote the item's question (word 13-gram overlap).

During synthesis and RL a search backend can return the very page the question was written from
with the question's wording in it (or a dataset page quoting it). A result sharing any ``n``-gram of
lower-cased word tokens with a guarded text is dropped, and the observation says how many were.
Questions shorter than ``n`` words have no n-grams and guard nothing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Case- and diacritic-folded word tokens."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    return _WORD.findall(folded)


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True, slots=True)
class LeakageGuard:
    """The n-grams of the guarded texts (the question, optionally its canonical form and the answer)."""

    grams: frozenset[tuple[str, ...]]
    n: int
    fingerprint: str  # hash of the guarded texts, part of cache keys

    @classmethod
    def build(cls, texts: Iterable[str], n: int = 13) -> LeakageGuard:
        texts = [t for t in texts if t]
        grams: set[tuple[str, ...]] = set()
        for text in texts:
            grams |= ngrams(words(text), n)
        digest = hashlib.sha256(("\x00".join(texts) + f"|{n}").encode()).hexdigest()[:16]
        return cls(frozenset(grams), n, digest)

    def leaks(self, text: str) -> bool:
        """Does ``text`` share any n-gram with a guarded text?"""
        if not self.grams:
            return False
        toks = words(text)
        return any(tuple(toks[i:i + self.n]) in self.grams for i in range(len(toks) - self.n + 1))
