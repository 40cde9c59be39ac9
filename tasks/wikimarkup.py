"""Template and citation markup that survived parsing, stripped from the text the search tools index.

Link sentences are cut from wikitext one at a time, so a citation template that spans several sentences
(``{{cite web |last=Walters |year=2001 …}}``) or a table row of template parameters can reach the page
text in pieces. What a tool observation quotes must read as prose: balanced ``{{…}}`` go whole (also across
lines), an unbalanced opening cuts the rest of its line, an unbalanced closing after template parameters
(``|…}}``) the line up to it (braces in prose, such as JSON a page quotes, stay text), and a line that is
mostly ``|name = value`` parameters is dropped.
"""

from __future__ import annotations

import re

_BALANCED = re.compile(r"\{\{[^{}]*\}\}", re.S)
_TABLE = re.compile(r"\{\|[^{}]*?\|\}", re.S)
_PARAM = re.compile(r"\|\s*\w[\w -]{0,30}?\s*=")
_SPACES = re.compile(r"[ \t]{2,}")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)")


def _clean_line(line: str) -> str:
    if "}}" in line and "|" in line[:line.rindex("}}")]:     # the tail of a template's parameters
        line = line[line.rindex("}}") + 2:]
    if "{{" in line:
        line = line[:line.index("{{")]
    if "{|" in line or "|}" in line or len(_PARAM.findall(line)) >= 2:    # table markup, a run of parameters
        return ""
    line = _PARAM.sub(" ", line).lstrip("|!* ")                            # one stray parameter, a table cell
    line = _EMPTY_BRACKETS.sub("", line.replace("{", "").replace("}", ""))
    return _SPACES.sub(" ", line).rstrip()


def strip_template_markup(text: str) -> str:
    """``text`` without template or citation markup; paragraphs left empty are removed."""
    prev = None
    while prev != text:                          # innermost first, so nested templates go too
        prev, text = text, _BALANCED.sub("", text)
    text = _TABLE.sub("", text)
    paragraphs = []
    for para in text.split("\n\n"):
        lines = [_clean_line(ln) for ln in para.split("\n")]
        kept = "\n".join(ln for ln in lines if ln.strip())
        if kept.strip():
            paragraphs.append(kept)
    return "\n\n".join(paragraphs)


def has_template_markup(text: str) -> bool:
    """True when ``text`` still shows template markup (what the bundled-corpus test looks for)."""
    return "{{" in text or "}}" in text or bool(re.search(r"\|\s*last\s*=", text))
