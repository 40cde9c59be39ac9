"""Ports the search tools call. Local indexes and remote adapters both implement them.

Backends raise ``BackendError`` / ``BackendTimeout`` (from ``toolenv.errors``) for failures; the
environment turns those into ``[ERROR:backend]`` / ``[ERROR:timeout]`` observations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One text-search result: the page and the text a summary is drawn from (page body or snippet)."""

    title: str
    url: str
    text: str
    score: float | None = None


@dataclass(frozen=True, slots=True)
class ImageHit:
    """One reverse-image-search result: a page showing a matching image."""

    title: str
    url: str
    caption: str = ""
    score: float | None = None
    image_sha256: str | None = None


class TextSearch(Protocol):
    """Full-text search over pages. ``fingerprint`` identifies the backend and its content for cache keys."""

    @property
    def fingerprint(self) -> str: ...

    def search(self, query: str, top_k: int = 5, hl: str = "en") -> list[SearchHit]: ...


class ImageSearch(Protocol):
    """Reverse image search: pages that show an image like ``image``."""

    @property
    def fingerprint(self) -> str: ...

    def search(self, image: Image.Image, top_k: int = 5) -> list[ImageHit]: ...


class Summarizer(Protocol):
    """Query-focused summary of one page (the released code uses an LLM; see ``summary.py``)."""

    def summarize(self, query: str, title: str, text: str) -> str: ...


class PageReader(Protocol):
    """Fetch a page as clean text/Markdown (the released code uses Jina Reader)."""

    def read(self, url: str) -> str: ...
