"""Which search backends a run's tools used, as labels for rows and the card (no keys, no URL paths)."""

from __future__ import annotations

from urllib.parse import urlsplit

from schemas.settings import Settings

LOCAL = "local index"


def _remote(kind: str, url: str) -> str:
    host = urlsplit(url).hostname or "unknown host"
    return f"remote {kind} API at {host}"


def search_backend_labels(settings: Settings | None) -> dict[str, str]:
    """``{"text_search": …, "image_search": …}``: ``local index`` (BM25 / pHash+embedding over the ingested
    pages and images) or ``remote <kind> API at <host>`` (what ``tasks.tooling.remote_backends`` builds)."""
    s = settings
    return {
        "text_search": _remote("Serper-style web search", s.search_api_url) if s and s.search_api_url else LOCAL,
        "image_search": _remote("Lens-style reverse image search", s.image_search_url)
        if s and s.image_search_url else LOCAL,
    }
