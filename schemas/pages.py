"""Records produced by every ingest source (XML dump, ZIM, live API) and written to the warehouse.

One shape for all sources: a reader yields ``PageRecord`` or ``PageReject`` values, and image bytes
arrive as ``ImageBlob`` values; the warehouse never knows which source produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

AliasKind = Literal["redirect", "bold_lead", "infobox_name", "title"]
ImageRole = Literal["infobox", "body"]


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One outgoing wikilink, in page order. ``target`` is the normalised surface title (not yet
    redirect-resolved); ``infobox_key`` is set when the link sits inside an infobox parameter."""

    target: str
    anchor_text: str
    sentence: str
    infobox_key: str | None = None


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image a page uses: ``file_name`` without namespace prefix (``Flag of Algeria.svg``)."""

    file_name: str
    role: ImageRole
    caption: str = ""


@dataclass(frozen=True, slots=True)
class PageRecord:
    """A parsed page. Redirect pages carry only ``redirect_target``."""

    wiki: str
    title: str
    namespace: int
    page_id: int | None = None
    revision_id: int | None = None
    revision_timestamp: str | None = None
    redirect_target: str | None = None
    is_disambiguation: bool = False
    lead_text: str = ""
    infobox_type: str | None = None
    infobox: dict[str, str] = field(default_factory=dict)
    links: tuple[LinkRecord, ...] = ()
    aliases: tuple[tuple[str, AliasKind], ...] = ()
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class PageReject:
    """A page that could not be parsed; the rest of the source goes on."""

    wiki: str
    title: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ImageMeta:
    """Licence and provenance of an image file (``file_name`` as pages reference it)."""

    file_name: str
    license: str | None = None
    license_url: str | None = None
    author: str | None = None
    source_url: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ImageBlob:
    """Image bytes for a referenced file; stored content-addressed by sha256."""

    wiki: str
    meta: ImageMeta
    data: bytes
