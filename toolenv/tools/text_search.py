"""``text_search(q, hl="en", top_k=5)``: search → (page text) → query-focused summary per passage.

Observation format as released: ``[Passage i]\\nTitle: …\\nURL: …\\nSummary:\\n…``. With the leakage
guard on, results whose title or text shares a 13-gram with the question are dropped and counted.
"""

from __future__ import annotations

from pydantic import Field

from toolenv.backends.base import SearchHit, Summarizer, TextSearch
from toolenv.backends.summary import ExtractiveSummarizer
from toolenv.leakage import LeakageGuard
from toolenv.tools.base import Tool, ToolArgs, ToolContext, ToolOutput


class TextSearchArgs(ToolArgs):
    """Search the web (here: the indexed Wikipedia pages) and get query-focused passage summaries."""

    q: str = Field(min_length=1, max_length=500, description="search query")
    hl: str = Field(default="en", max_length=10, description="interface language")
    top_k: int = Field(default=5, ge=1, le=20, description="number of passages")


def guard_note(dropped: int) -> str:
    if not dropped:
        return ""
    noun = "result was" if dropped == 1 else "results were"
    return f"\n\n(Leakage guard: {dropped} {noun} dropped because they quote the question.)"


def apply_guard(hits: list[SearchHit], guard: LeakageGuard | None) -> tuple[list[SearchHit], int]:
    if guard is None:
        return hits, 0
    kept = [h for h in hits if not guard.leaks(f"{h.title}\n{h.text}")]
    return kept, len(hits) - len(kept)


def format_passages(query: str, hits: list[SearchHit], summarizer: Summarizer) -> str:
    if not hits:
        return f"No results found for query: {query!r}."
    return "\n\n".join(f"[Passage {i}]\nTitle: {h.title}\nURL: {h.url}\nSummary:\n"
                       f"{summarizer.summarize(query, h.title, h.text)}" for i, h in enumerate(hits, 1))


class TextSearchTool(Tool[TextSearchArgs]):
    name = "text_search"
    args_model = TextSearchArgs
    image_fields = ()
    description = ("Search for facts not visible in the image. Returns passages with title, URL and a "
                   "query-focused summary; cite the URLs.")

    def __init__(self, backend: TextSearch, summarizer: Summarizer | None = None) -> None:
        self.backend = backend
        self.summarizer = summarizer or ExtractiveSummarizer()

    @property
    def fingerprint(self) -> str:
        summary = getattr(self.summarizer, "fingerprint", type(self.summarizer).__name__)
        return f"{self.name}:v1:{self.backend.fingerprint}:{summary}"

    def run(self, args: TextSearchArgs, ctx: ToolContext) -> ToolOutput:
        hits, dropped = apply_guard(self.backend.search(args.q, top_k=args.top_k, hl=args.hl), ctx.guard)
        return ToolOutput(format_passages(args.q, hits[: args.top_k], self.summarizer) + guard_note(dropped),
                          dropped_by_guard=dropped)
