"""Prompt templates as data: ``prompts/<stage>/<purpose>.j2``, rendered with StrictUndefined.

Every rendered prompt carries ``(template name, sha256[:12] of the template source)`` so rows can say
exactly which prompt produced them. This module knows only jinja; it imports nothing of ours.

Values are data, never markup: every ``{{ value }}`` goes through ``neutralise``, which turns anything
shaped like a tag (``</context>``, ``<tool_call>``) or a chat-template special token (``<|im_start|>``)
into inert ``&lt;…&gt;`` text, so page text cannot close the block that quotes it or open a new one.
Templates put page-derived values inside tagged blocks (``<context>…</context>``) that say so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

_ROOT = Path(__file__).resolve().parent
_MARKER = re.compile(r"<\|[^<>|\n]{0,64}\|>|<\s*/?\s*[A-Za-z_][\w.:-]*(?:\s[^<>]*)?/?\s*>")


def neutralise(text: str) -> str:
    """``text`` with tag-shaped spans and special tokens made inert (``<`` / ``>`` → ``&lt;`` / ``&gt;``)."""
    return _MARKER.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), text)


def _finalize(value: Any) -> Any:
    """Jinja's hook on every ``{{ }}`` output: strings are neutralised; ``Markup`` (e.g. ``tojson``
    output, already escaped) and non-strings pass through."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return neutralise(value)
    return value


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    text: str
    template: str
    hash: str


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_ROOT)), undefined=jinja2.StrictUndefined,
        autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
        finalize=_finalize,
    )


def template_hash(name: str) -> str:
    """Content hash of a template's source (stable across machines)."""
    src = (_ROOT / name).read_bytes()
    return hashlib.sha256(src).hexdigest()[:12]


def render(name: str, **context: Any) -> RenderedPrompt:
    """Render ``prompts/<name>`` (e.g. ``questions/canonical.j2``); missing variables raise."""
    text = _env().get_template(name).render(**context).strip()
    return RenderedPrompt(text, name, template_hash(name))


def all_templates() -> list[str]:
    return sorted(str(p.relative_to(_ROOT)) for p in _ROOT.rglob("*.j2"))


def all_hashes() -> dict[str, str]:
    """``{template name: hash}`` for every template: recorded with each run."""
    return {name: template_hash(name) for name in all_templates()}
