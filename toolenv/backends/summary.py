"""Extractive, query-focused passage summaries (a deterministic stand-in for the released code's Qwen3-32B
summariser: 2–4 sentences about the query). An LLM summariser can be injected through the ``Summarizer``
port instead; its prompt then belongs in ``prompts/``.
"""

from __future__ import annotations

import re

from toolenv.leakage import words

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"“'(\[A-Z0-9])")
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "he", "her", "his", "in", "is",
    "it", "its", "of", "on", "or", "she", "that", "the", "their", "they", "this", "to", "was", "were", "what",
    "when", "where", "which", "who", "whom", "whose", "why", "with", "how", "did", "does", "do"
})


def _stem(token: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (paragraph breaks also end a sentence)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=[#*\-])", text):
        para = " ".join(para.split())
        out.extend(s for s in _SENTENCE.split(para) if s)
    return out


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0]
    return cut + "…"


class ExtractiveSummarizer:
    """Pick the ``sentences`` sentences sharing most query terms (ties: earlier first), in page order;
    with no overlap at all, the page's lead sentences.

    Query terms that are words of the page's title (``Afghanistan`` in "Afghanistan demonym", searched
    over the Afghanistan page) say nothing about *which* sentence answers: every lead sentence names
    the page. They rank sentences only after the other terms (``demonym``), so the infobox line or
    body sentence the query is about is quoted instead of the lead.
    """

    def __init__(self, sentences: int = 3, max_chars: int = 700, page_chars: int = 50_000) -> None:
        self.sentences = sentences
        self.max_chars = max_chars
        self.page_chars = page_chars

    @property
    def fingerprint(self) -> str:
        """What determines its output (part of the tool-call cache key)."""
        return f"ExtractiveSummarizer/2({self.sentences},{self.max_chars},{self.page_chars})"

    def summarize(self, query: str, title: str, text: str) -> str:
        sents = split_sentences(text[: self.page_chars])
        if not sents:
            return _truncate(" ".join(text.split()), self.max_chars)
        terms = {_stem(t) for t in words(query) if t not in _STOP}
        named = terms & {_stem(t) for t in words(title)}
        focus = (terms - named) or terms
        bags = [{_stem(t) for t in words(s)} for s in sents]
        scores = [(len(focus & bag), len(named & bag)) for bag in bags]
        if max(scores) == (0, 0):
            chosen = list(range(min(self.sentences, len(sents))))
        else:
            ranked = sorted(range(len(sents)), key=lambda i: (-scores[i][0], -scores[i][1], i))
            chosen = sorted(i for i in ranked[: self.sentences] if scores[i] != (0, 0))
        per = max(self.max_chars // len(chosen), 80)
        return _truncate(" ".join(_truncate(sents[i], per) for i in chosen), self.max_chars)
