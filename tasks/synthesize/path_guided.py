"""The offline, path-guided teacher and solver: deterministic stand-ins for the paper's Claude / Qwen3-VL,
labelled ``path-guided`` in every row they produce.

**What it knows.** The item's hidden provenance (``Plan``): the anchor, the bridges, the relation of
each hop, the answer node and the attribute asked, and which degradation the image got. It uses them
to choose the real tool calls a competent agent would make:

1. a repair tool on a degraded image (blur → ``sharpen``, downsample → ``super_resolution``,
   perspective → ``perspective_correct``);
2. ``image_search`` on the (repaired) image: the anchor counts as identified only when a returned
   match is titled with the anchor;
3. per hop ``src → dst``: ``text_search("<src> <relation>")``, then ``"<src> <relation> <dst>"`` and
   ``"<src> <dst>"`` if needed; the hop counts only when a returned passage of ``src`` mentions ``dst``
   (or one of ``dst`` mentions ``src``);
4. ``text_search("<answer node> <attribute>")`` (then ``"<answer node>"``): the answer counts only
   when it appears in a returned passage of the answer node.

**What it does not know.** Whether the tools surface that evidence. Every check reads the
observation it actually got; when one fails the teacher says it cannot determine the answer, and
the answer judge rejects the trajectory. It never answers from the provenance.

The ``<think>`` text is generated output, not a prompt, so it is built here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from toolenv.judging import fold, found_in, match_titles, passages

NAME = "path-guided"
REPAIR = {"blur": "sharpen", "downsample": "super_resolution", "perspective": "perspective_correct"}


@dataclass(frozen=True, slots=True)
class Plan:
    """An item's hidden provenance, as the path-guided policy uses it."""

    question: str
    answer: str
    aliases: tuple[str, ...]
    nodes: tuple[str, ...]              # anchor, bridges…, answer node
    relations: tuple[str, ...]          # one per hop
    attribute: str
    degradation: str | None = None


def mentions(text: str, name: str) -> bool:
    return bool(fold(name)) and f" {fold(name)} " in f" {fold(text)} "


def hop_evidence(observation: str, src: str, dst: str) -> str | None:
    """The passage text that links ``src`` to ``dst``, if the observation has one."""
    for title, summary in passages(observation):
        forward = fold(title) == fold(src) and mentions(summary, dst)
        if forward or (fold(title) == fold(dst) and mentions(summary, src)):
            return summary
    return None


def answer_evidence(observation: str, node: str, answer: str, aliases: tuple[str, ...]) -> str | None:
    """The answer as written in a returned passage of the answer node, if there is one."""
    for title, summary in passages(observation):
        if fold(title) == fold(node):
            hit = found_in(summary, answer, aliases)
            if hit:
                return hit
    return None


def hop_queries(src: str, relation: str, dst: str) -> list[str]:
    """The queries tried for one hop, in order: the relation as sampled, then relation and target (a
    query-focused summary then quotes the sentence that links them), then the two names."""
    return list(dict.fromkeys([f"{src} {relation}", f"{src} {relation} {dst}", f"{src} {dst}"]))


def _call(think: str, name: str, arguments: dict[str, Any]) -> str:
    return f"<think>{think}</think>\n<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def _respond(think: str, answer: str) -> str:
    return f"<think>{think}</think>\n<response>{answer}</response>"


@dataclass
class PathGuidedPolicy:
    """A state machine over the plan; ``next_turn(observation)`` returns the next assistant turn."""

    plan: Plan
    name: str = NAME
    _stage: str = "start"
    _hop: int = 0
    _try: int = 0
    _image: str = "img_1"
    _images: int = 1
    _log: list[str] = field(default_factory=list)

    def next_turn(self, observation: str, new_images: int = 0) -> str:
        """The turn that follows ``observation`` (the task text first, then each tool response)."""
        self._images += new_images
        handler = getattr(self, f"_after_{self._stage}")
        turn: str = handler(observation)
        return turn

    # ------------------------------------------------------------------ stages
    def _after_start(self, _: str) -> str:
        kind = self.plan.degradation
        if kind in REPAIR:
            self._stage = "repair"
            return _call(f"The image looks degraded ({kind}); repair it with {REPAIR[kind]} before searching.",
                         REPAIR[kind], {"image": self._image})
        return self._image_search("The question is about the entity shown in the image; identify it first.")

    def _after_repair(self, _: str) -> str:
        if self._images > 1:
            self._image = f"img_{self._images}"
        return self._image_search(f"Now search the web for the repaired image {self._image} to identify it.")

    def _image_search(self, think: str) -> str:
        self._stage = "identify"
        return _call(think, "image_search", {"url": self._image})

    def _after_identify(self, observation: str) -> str:
        anchor = self.plan.nodes[0]
        if not any(fold(t) == fold(anchor) for t in match_titles(observation)):
            return self._give_up(f"The reverse image search did not identify the entity in the image; "
                                 f"{anchor!r} is not among the matches.")
        self._log.append(f"the image shows {anchor}")
        return self._hop_query(f"The image search identifies the image as {anchor}.")

    def _hop_query(self, lead: str) -> str:
        nodes, rels = self.plan.nodes, self.plan.relations
        if self._hop >= len(rels):
            return self._answer_query(lead)
        src, dst = nodes[self._hop], nodes[self._hop + 1]
        self._stage = "hop"
        q = hop_queries(src, rels[self._hop], dst)[self._try]
        return _call(f"{lead} Next I need the entity related to {src} ({rels[self._hop]}); search for it.",
                     "text_search", {"q": q})

    def _after_hop(self, observation: str) -> str:
        src, dst = self.plan.nodes[self._hop], self.plan.nodes[self._hop + 1]
        if hop_evidence(observation, src, dst) is None:
            if self._try + 1 < len(hop_queries(src, self.plan.relations[self._hop], dst)):
                self._try += 1
                return self._hop_query("That search did not show the link; refine the query.")
            return self._give_up(f"The searches did not show what {src} is linked to.")
        self._log.append(f"{src} → {dst}")
        self._hop, self._try = self._hop + 1, 0
        return self._hop_query(f"The passage about {src} points to {dst}.")

    def _answer_query(self, lead: str) -> str:
        node, attr = self.plan.nodes[-1], self.plan.attribute.replace("_", " ")
        self._stage = "answer"
        q = f"{node} {attr}" if self._try == 0 else node
        return _call(f"{lead} Now look up the {attr} of {node}.", "text_search", {"q": q})

    def _after_answer(self, observation: str) -> str:
        node, attr = self.plan.nodes[-1], self.plan.attribute.replace("_", " ")
        hit = answer_evidence(observation, node, self.plan.answer, self.plan.aliases)
        if hit is None:
            if self._try == 0:
                self._try = 1
                return self._answer_query(f"The passage does not state the {attr}; search the article itself.")
            return self._give_up(f"The searches did not state the {attr} of {node}.")
        chain = "; ".join(self._log)
        self._stage = "done"
        return _respond(f"Evidence chain: {chain}. The passage about {node} gives its {attr}: {hit}.",
                        f"\\boxed{{{hit}}}")

    def _after_done(self, _: str) -> str:
        return _respond("The answer was already given.", "")

    def _give_up(self, why: str) -> str:
        self._stage = "done"
        return _respond(f"{why} I will not guess.", "The answer cannot be determined from the evidence found.")


def solve_from(observation: str, plan: Plan) -> str:
    """The offline solver's answer from the one observation its gate allowed: the reference (or an alias)
    as written in that observation, else an honest "cannot be determined"."""
    return found_in(observation, plan.answer, plan.aliases) or "cannot be determined"
