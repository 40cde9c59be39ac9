"""Source-anchor visual grounding (PAPER.md §4): the anchor's own image replaces its name.

Up to K candidate images of the anchor (its infobox image first, then its other images) are scored
against a short description of the anchor. With a CLIP model configured the score is CLIP cosine
similarity (``tasks/questions/clip.py``); without one the documented heuristic below is used and
every row says ``method = heuristic``:

- 0.90  the infobox image of the anchor's own page;
- 0.60  another image of the page whose file name contains the anchor's title;
- 0.50  another image whose caption names the anchor;
- 0.20  any other image of the page.

The threshold (0.28 by default) applies to either score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.questions import Grounding, NodeContext
from tasks.questions.leakage import fold
from tasks.questions.spec import type_noun

ImageScorer = Callable[[Sequence[str], str], list[float]]   # (image paths, text) -> cosine scores


@dataclass(frozen=True, slots=True)
class ImageCandidate:
    file_name: str
    sha256: str
    path: str
    role: str
    caption: str
    width: int
    height: int
    license: str | None
    author: str | None
    source_url: str | None


def heuristic_score(anchor: str, cand: ImageCandidate) -> float:
    name, title = fold(cand.file_name), fold(anchor)
    if cand.role == "infobox":
        return 0.9
    if title in name:
        return 0.6
    if title in fold(cand.caption):
        return 0.5
    return 0.2


def anchor_description(node: NodeContext) -> str:
    """The short text an image is compared with ("Algeria, country")."""
    return f"{node.title}, {type_noun(node)}"


def referring_expression(node: NodeContext, cand: ImageCandidate) -> str:
    """"the country whose flag is shown in the image" for flags, else "the <noun> in the image"."""
    noun = type_noun(node)
    if fold(cand.file_name).startswith("flag of"):
        return f"the {noun} whose flag is shown in the image"
    return f"the {noun} in the image"


def choose_image(node: NodeContext, candidates: Sequence[ImageCandidate], k: int,
                 scorer: ImageScorer | None, scorer_name: str, data_dir: str) -> Grounding | None:
    """Score up to ``k`` candidates and keep the best (ties: earlier candidate wins)."""
    pool = list(candidates)[:k]
    if not pool:
        return None
    if scorer is None:
        scores, method = [heuristic_score(node.title, c) for c in pool], "heuristic"
    else:
        scores = scorer([f"{data_dir}/{c.path}" for c in pool], anchor_description(node))
        method = scorer_name
    best = max(range(len(pool)), key=lambda i: (scores[i], -i))
    c = pool[best]
    return Grounding(c.sha256, c.file_name, c.width, c.height, c.source_url, c.author, c.license,
                     round(float(scores[best]), 4), method, referring_expression(node, c), len(pool))
