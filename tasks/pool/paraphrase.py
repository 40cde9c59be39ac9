"""Paraphrase-robust question matching for decontamination, behind the n-gram fast path (``decontam.py``).

Two matchers, both returning the closest benchmark question and a score:

- ``ContentIndex``: each question becomes a set of normalised content words (accent- and case-folded, stop and
  question words dropped, a light suffix stemmer, a few verb/noun forms folded together: ``wrote``/``written``/
  ``writer`` → ``write``). Similarity is IDF-weighted Jaccard, so a shared rare word (an entity name) counts
  far more than a shared template word (``capital``, ``population``). Reordering, voice change and most word
  swaps keep the set; a different entity or a different attribute changes its heaviest words. Short
  questions (any length) are compared as long as they have ``min_words`` content words.
- ``EmbeddingIndex``: cosine similarity of sentence embeddings (a model a package ships, loaded from a local
  path whose weights are sha256-checked; ``tasks.pool.embedding``), for synonym swaps the word sets miss.
  Only used when configured; on its own a sentence encoder scores same-template questions about two different
  entities high (0.7 for "capital of France" vs "capital of Spain"), so an embedding match also needs the
  content-word similarity to clear ``embedding_min_words_similarity``.

Both compare the answers too: when the item's folded answer equals the benchmark's, the lower ``*_same_answer``
threshold applies (a close question with the same answer is the same item).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

STOP = frozenset((
    "a", "an", "the", "of", "in", "on", "at", "to", "and", "or", "is", "are", "was", "were", "be", "been", "being",
    "by", "for", "with", "from", "as", "it", "its", "this", "that", "these", "those", "which", "what", "who", "whom",
    "whose", "when", "where", "why", "how", "does", "do", "did", "has", "have", "had", "s", "there", "their",
    "they", "he", "she", "his", "her", "him", "i", "you", "we", "one", "shown", "image", "picture", "photo",
    "pictured", "seen", "can", "could", "would", "will", "about", "into", "than", "then", "also", "name", "named",
    "called", "known", "kind", "type", "people", "person", "thing", "much", "many", "most", "more", "whats",
))
"""Words that say what kind of question it is, not what it is about."""
FORMS = {
    "wrote": "write", "written": "write", "writer": "write", "writing": "write", "author": "write",
    "authored": "write", "born": "birth", "birthplace": "birth", "died": "death", "die": "death", "dead": "death",
    "pass": "death", "passed": "death", "away": "", "painted": "paint", "painter": "paint", "built": "build",
    "builder": "build", "constructed": "build", "construct": "build", "founded": "found", "founder": "found",
    "established": "found", "establish": "found", "biggest": "large", "largest": "large", "big": "large",
    "bigger": "large", "larger": "large", "taught": "teach", "teacher": "teach", "tutor": "teach",
    "tutored": "teach", "invented": "invent", "inventor": "invent", "created": "create", "creator": "create",
    "made": "create", "make": "create", "town": "city", "located": "locat", "location": "locat", "lies": "locat",
    "situated": "locat", "eats": "eat", "eaten": "eat", "diet": "eat", "food": "eat", "lived": "live",
    "lives": "live", "living": "live", "habitat": "live", "inhabit": "live", "speak": "language",
    "spoken": "language", "tongue": "language", "used": "use", "using": "use", "famous": "famous",
    "best": "famous", "popular": "famous", "renowned": "famous", "money": "currency", "inhabitants": "population",
    "residents": "population", "populous": "population", "latest": "last", "recent": "last", "mostly": "main",
    "mainly": "main", "chiefly": "main", "primarily": "main", "area": "region", "zone": "region",
    "nature": "wild", "natural": "wild", "naturally": "wild", "invent": "create", "finished": "complet",
    "completion": "complet", "country": "nation", "state": "nation",
}
"""Inflections and near-synonyms folded to one form (a small, general list; the embedding covers the rest)."""


_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """Accent-folded, case-folded word tokens."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(folded.casefold())


def _stem(word: str) -> str:
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ly", ""), ("ion", ""), ("ing", ""), ("ed", ""), ("es", ""),
                         ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


def content_words(text: str) -> frozenset[str]:
    """The question's normalised content words (see the module docstring)."""
    out = set()
    for tok in tokens(text):
        if tok in STOP:
            continue
        tok = FORMS.get(tok, tok)
        if tok:
            out.add(FORMS.get(_stem(tok), _stem(tok)))
    return frozenset(out)


def folded_answer(text: str | None) -> str:
    return " ".join(tokens(text or ""))


@dataclass(frozen=True, slots=True)
class Near:
    qid: int                      # benchmark question index
    score: float
    shared: tuple[str, ...]       # content words in common (for the reject's detail)


class ContentIndex:
    """Benchmark questions as content-word sets with an inverted index; IDF-weighted Jaccard similarity."""

    def __init__(self) -> None:
        self._sets: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)
        self._idf: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self._sets)

    def add(self, question: str) -> int:
        words = content_words(question)
        qid = len(self._sets)
        self._sets.append(words)
        for w in words:
            self._postings[w].append(qid)
        self._idf = None
        return qid

    def idf(self, word: str) -> float:
        if self._idf is None:
            n = max(1, len(self._sets))
            self._idf = {w: math.log((n + 1) / (len(p) + 0.5)) + 1.0 for w, p in self._postings.items()}
        return self._idf.get(word, math.log((len(self._sets) + 1) / 0.5) + 1.0)

    def similarity(self, a: frozenset[str], b: frozenset[str]) -> float:
        union = sum(self.idf(w) for w in a | b)
        return sum(self.idf(w) for w in a & b) / union if union else 0.0

    def nearest(self, question: str, min_words: int, candidates: Sequence[int] | None = None) -> Near | None:
        """The benchmark question most similar to ``question`` among those sharing a content word (or among
        ``candidates``); ``None`` when ``question`` has fewer than ``min_words`` content words."""
        words = content_words(question)
        if len(words) < min_words:
            return None
        pool: Counter[int] = Counter()
        if candidates is None:
            for w in words:
                pool.update(self._postings.get(w, ()))
        else:
            pool.update(candidates)
        best: Near | None = None
        for qid in pool:
            score = self.similarity(words, self._sets[qid])
            if best is None or score > best.score:
                best = Near(qid, round(score, 4), tuple(sorted(words & self._sets[qid])))
        return best

    def words(self, qid: int) -> frozenset[str]:
        return self._sets[qid]


Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts → L2-normalised embeddings, one row per text."""


class EmbeddingIndex:
    """Benchmark question embeddings; ``top`` returns the most similar ones by cosine."""

    def __init__(self, encode: Encoder, batch: int = 256) -> None:
        self.encode, self.batch = encode, batch
        self._pending: list[str] = []
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self._pending) + (0 if self._matrix is None else len(self._matrix))

    def add(self, question: str) -> None:
        self._pending.append(question)

    def _frozen(self) -> np.ndarray:
        if self._pending:
            parts = [] if self._matrix is None else [self._matrix]
            for i in range(0, len(self._pending), self.batch):
                parts.append(np.asarray(self.encode(self._pending[i:i + self.batch]), dtype=np.float32))
            self._matrix = np.concatenate(parts) if parts else np.zeros((0, 1), np.float32)
            self._pending = []
        return self._matrix if self._matrix is not None else np.zeros((0, 1), np.float32)

    def top(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        matrix = self._frozen()
        if not len(matrix):
            return []
        sims = matrix @ vector
        idx = np.argsort(-sims)[:k]
        return [(int(i), float(sims[i])) for i in idx]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encode(list(texts)), dtype=np.float32)
