"""Local full-text search over ingested pages: a tantivy BM25 index, in RAM or in a directory.

Fields: title (boost 3), aliases (boost 2), text; all with tantivy's English stemmer. The query is
reduced to its word tokens (a model's query never reaches tantivy's query syntax) and OR-ed. Results
are ordered by (score desc, insertion order), so a given index answers deterministically. Indexing
uses one writer thread for the same reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import tantivy

from toolenv.backends.base import SearchHit
from toolenv.errors import BackendError

_WORD = re.compile(r"\w+")
_META = "searchvl_text_index.json"
BOOSTS = {"title": 3.0, "aliases": 2.0, "text": 1.0}


@dataclass(frozen=True, slots=True)
class Document:
    """One page to index. ``url`` identifies it in results (dedupe key)."""

    title: str
    url: str
    text: str
    aliases: tuple[str, ...] = ()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("title", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("aliases", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("text", stored=True, tokenizer_name="en_stem")
    sb.add_text_field("url", stored=True, tokenizer_name="raw")
    sb.add_integer_field("ord", stored=True, fast=True)
    return sb.build()


class TextIndex:
    """BM25 search over ``Document`` values. Build with ``from_documents``; reopen a directory with ``open``."""

    def __init__(self, index: tantivy.Index, fingerprint: str, size: int) -> None:
        self._index = index
        self._fingerprint = fingerprint
        self._size = size

    @classmethod
    def from_documents(cls, docs: Iterable[Document], path: Path | None = None,
                       heap_bytes: int = 64_000_000) -> TextIndex:
        """Index ``docs`` in RAM (``path=None``) or in a fresh directory ``path``."""
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            if any(path.iterdir()):
                raise ValueError(f"{path} is not empty; open it with TextIndex.open or pick an empty folder")
        index = tantivy.Index(_schema(), path=None if path is None else str(path), reuse=False)
        writer = index.writer(heap_size=heap_bytes, num_threads=1)
        digest = hashlib.sha256()
        n = 0
        for doc in docs:
            writer.add_document(tantivy.Document(title=doc.title, aliases=" | ".join(doc.aliases), text=doc.text,
                                                 url=doc.url, ord=n))
            for part in (doc.title, doc.url, doc.text, *doc.aliases):
                digest.update(part.encode())
                digest.update(b"\x00")
            digest.update(b"\x01")
            n += 1
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        fingerprint = f"tantivy:{digest.hexdigest()[:16]}:{n}"
        if path is not None:
            (path / _META).write_text(json.dumps({"fingerprint": fingerprint, "documents": n}))
        return cls(index, fingerprint, n)

    @classmethod
    def open(cls, path: Path) -> TextIndex:
        """Reopen an index written by ``from_documents(path=...)``."""
        meta = json.loads((path / _META).read_text())
        return cls(tantivy.Index(_schema(), path=str(path), reuse=True), meta["fingerprint"], meta["documents"])

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def __len__(self) -> int:
        return self._size

    def search(self, query: str, top_k: int = 5, hl: str = "en") -> list[SearchHit]:
        """The ``top_k`` best pages for ``query`` (``hl`` is ignored: one language per index)."""
        terms = _WORD.findall(query.lower())
        if not terms:
            return []
        try:
            parsed = self._index.parse_query(" ".join(terms), list(BOOSTS), field_boosts=BOOSTS)
            searcher = self._index.searcher()
            result = searcher.search(parsed, top_k * 2 + 5)
        except ValueError as err:
            raise BackendError(f"text index search failed: {err}") from err
        rows = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            rows.append((-float(score), int(doc["ord"][0]), doc["title"][0], doc["url"][0], doc["text"][0]))
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for neg, _, title, url, text in sorted(rows):
            if url not in seen:
                seen.add(url)
                hits.append(SearchHit(title=title, url=url, text=text, score=round(-neg, 4)))
        return hits[:top_k]
