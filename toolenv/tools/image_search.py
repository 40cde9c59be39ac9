"""``image_search(image, top_k=5)``: reverse image search; pages showing the image, with captions and URLs.

The released schema names the argument ``url`` (an ``img_N`` id or a public URL); ``url`` is accepted as
an alias, but only image ids are resolved — fetching arbitrary URLs from model output is not allowed.
Observation format as released: ``Tool execution result:\\n<json>``.
"""

from __future__ import annotations

import json

from pydantic import AliasChoices, Field

from toolenv.backends.base import ImageHit, ImageSearch
from toolenv.leakage import LeakageGuard
from toolenv.tools.base import ImageRef, Tool, ToolArgs, ToolContext, ToolOutput
from toolenv.tools.text_search import guard_note


class ImageSearchArgs(ToolArgs):
    """Reverse image search: find web pages (here: indexed Wikipedia pages) that show this image."""

    image: ImageRef = Field(validation_alias=AliasChoices("image", "url"))
    top_k: int = Field(default=5, ge=1, le=20, description="number of matches")


def _guard(hits: list[ImageHit], guard: LeakageGuard | None) -> tuple[list[ImageHit], int]:
    if guard is None:
        return hits, 0
    kept = [h for h in hits if not guard.leaks(f"{h.title}\n{h.caption}")]
    return kept, len(hits) - len(kept)


def format_matches(hits: list[ImageHit]) -> str:
    matches = [{"position": i, "title": h.title, "url": h.url, "caption": h.caption,
                **({"similarity": h.score} if h.score is not None else {})} for i, h in enumerate(hits, 1)]
    body = {"visual_matches": matches, "related_urls": list(dict.fromkeys(h.url for h in hits if h.url))}
    return "Tool execution result:\n" + json.dumps(body, ensure_ascii=False, indent=1)


class ImageSearchTool(Tool[ImageSearchArgs]):
    name = "image_search"
    args_model = ImageSearchArgs
    description = ("Reverse image search to identify an entity, artwork, place or product: returns pages "
                   "showing similar images with titles, captions and URLs. Always follow up with text_search.")

    def __init__(self, backend: ImageSearch) -> None:
        self.backend = backend

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:v1:{self.backend.fingerprint}"

    def run(self, args: ImageSearchArgs, ctx: ToolContext) -> ToolOutput:
        hits, dropped = _guard(self.backend.search(ctx.image(args.image), top_k=args.top_k), ctx.guard)
        return ToolOutput(format_matches(hits[: args.top_k]) + guard_note(dropped), dropped_by_guard=dropped)
