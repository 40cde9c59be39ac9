"""The SFT/RL split over groups (PAPER §6.6: RL is a random draw disjoint from the SFT items), so the two
sides are disjoint in what a model could memorise, not only in item ids.

Items are joined into groups (union-find) when they share any of these keys:

- ``path_prefix``: the first two edges of the path (anchor → bridge → bridge);
- ``anchor``: the anchor entity (the page whose image the question shows);
- ``image``: the original image (sha256);
- ``answer_entity``: the path's answer node;
- ``answer_text``: the folded answer string;
- ``answer_mention``: one item's answer or alias occurs, case- and accent-folded and as whole words, in the
  other's question or answer (``"44579000 km2"`` inside another item's descriptor "whose area is 44579000 km2").

Each group goes to one side as a whole: RL when a seeded hash of the group's canonical key (its smallest key)
falls under the hold-out fraction. The draw uses only the group's own keys, so it is stable across reruns and
does not depend on item order. Shards: keys are computable per item, so two shards agree on a group that lies
inside one shard; a group that spans shards is seen as two smaller groups whose smallest keys may differ, and
the shards may then place its parts on different sides. ``conflicts`` re-checks the invariant over the final
SFT and RL sets (the export drops offending SFT rows with a reason), which is what makes a sharded run safe.

Every item records which rule decided its side: ``drawn`` (alone in its group: its own hash) or the first of
``RULES`` through which it shares a key with another item of its group (the group's draw decided it).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from tasks.pool.paraphrase import tokens
from warehouse import splits as splits_repo
from warehouse.db import Connection
from warehouse.splits import SplitRow

Side = Literal["sft", "rl"]
RULES = ("path_prefix", "anchor", "image", "answer_entity", "answer_text", "answer_mention")
"""Shared-key kinds, in the order that names an item's deciding rule."""
DRAWN = "drawn"
MAX_PHRASE = 12
"""Answers longer than this many tokens are not searched for inside other items' text."""
_STOP = frozenset((
    "a", "an", "the", "of", "in", "on", "at", "to", "and", "or", "is", "are", "was", "were", "be", "by", "for",
    "with", "from", "as", "it", "its", "this", "that", "which", "what", "who", "whose", "yes", "no", "not", "none"))


@dataclass(frozen=True, slots=True)
class SplitItem:
    """What the split needs to know about one pool item (``nodes`` empty for external items)."""

    item_id: str
    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    image_sha256: str | None = None
    wiki: str | None = None
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    item_id: str
    side: Side
    rule: str                       # drawn | one of RULES
    group_key: str                  # the group's canonical key (hashed for the draw)
    group_size: int
    shared: tuple[str, ...]         # every rule through which the item shares a key in its group


def item_keys(it: SplitItem) -> list[tuple[str, str]]:
    """``(rule, key)`` pairs of one item, computable from the item alone (so shards agree)."""
    keys: list[tuple[str, str]] = []
    wiki = it.wiki or ""
    if it.nodes:
        keys.append(("anchor", f"anchor:{wiki}:{it.nodes[0]}"))
        keys.append(("answer_entity", f"answer_entity:{wiki}:{it.nodes[-1]}"))
        if len(it.nodes) >= 3:
            keys.append(("path_prefix", "path_prefix:" + wiki + ":" + "|".join(it.nodes[:3])))
    if it.image_sha256:
        keys.append(("image", f"image:{it.image_sha256}"))
    folded = phrases(it.answer, ())
    if folded:
        keys.append(("answer_text", "answer_text:" + " ".join(next(iter(folded)))))
    return keys


def phrases(answer: str, aliases: Iterable[str]) -> set[tuple[str, ...]]:
    """Folded token tuples of an answer and its aliases worth searching for (not only stopwords, ≤ MAX_PHRASE)."""
    out = set()
    for text in (answer, *aliases):
        toks = tuple(tokens(text))
        if toks and len(toks) <= MAX_PHRASE and not all(t in _STOP or len(t) < 2 for t in toks):
            out.add(toks)
    return out


def mentions(text: str, index: dict[tuple[str, ...], list[int]], longest: int) -> set[int]:
    """Indexes of the items whose answer phrase occurs in ``text`` as whole folded words."""
    toks = tokens(text)
    found: set[int] = set()
    for i in range(len(toks)):
        for n in range(1, min(longest, len(toks) - i) + 1):
            found.update(index.get(tuple(toks[i:i + n]), ()))
    return found


class _Groups:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def drawn_for_rl(key: str, fraction: float, seed: int) -> bool:
    """A uniform draw from a seeded hash of ``key``: the same key gets the same side in every run."""
    digest = hashlib.sha256(f"rl-holdout:{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_items(items: Sequence[SplitItem], fraction: float, seed: int) -> list[Placement]:
    """Place every item on a side, group by group (see the module docstring); one placement per item, in order."""
    groups = _Groups(len(items))
    shared: list[set[str]] = [set() for _ in items]
    keys = [item_keys(it) for it in items]
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, ks in enumerate(keys):
        for _, key in ks:
            by_key[key].append(i)
    for key, members in by_key.items():
        if len(members) > 1:
            rule = key.split(":", 1)[0]
            for m in members:
                groups.union(members[0], m)
                shared[m].add(rule)
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        for p in phrases(it.answer, it.aliases):
            index[p].append(i)
    longest = max((len(p) for p in index), default=0)
    for i, it in enumerate(items):
        for j in mentions(f"{it.question}\n{it.answer}", index, longest) - {i}:
            groups.union(i, j)
            shared[i].add("answer_mention")
            shared[j].add("answer_mention")
    members_of: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        members_of[groups.find(i)].append(i)
    out: list[Placement | None] = [None] * len(items)
    for members in members_of.values():
        canonical = min((k for m in members for _, k in keys[m]), default=None) or min(items[m].item_id
                                                                                      for m in members)
        side: Side = "rl" if drawn_for_rl(canonical, fraction, seed) else "sft"
        for m in members:
            rules = tuple(r for r in RULES if r in shared[m])
            out[m] = Placement(items[m].item_id, side, rules[0] if rules else DRAWN, canonical, len(members), rules)
    return [p for p in out if p is not None]


@dataclass(frozen=True, slots=True)
class Conflict:
    item_id: str                    # the SFT item that breaks the split
    rule: str
    rl_item: str
    detail: str


def conflicts(sft: Sequence[SplitItem], rl: Sequence[SplitItem], sft_answers: dict[str, str] | None = None
              ) -> list[Conflict]:
    """SFT items that share a key with an RL item, or whose question or final answer (``sft_answers``: item
    id → the trajectory's final answer, else the item's answer) contains an RL answer or alias. One conflict per
    SFT item (the first found)."""
    rl_keys: dict[str, str] = {}
    for it in rl:
        for _, key in item_keys(it):
            rl_keys.setdefault(key, it.item_id)
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for j, it in enumerate(rl):
        for p in phrases(it.answer, it.aliases):
            index[p].append(j)
    longest = max((len(p) for p in index), default=0)
    out: list[Conflict] = []
    for it in sft:
        hit = next(((rule, key) for rule, key in item_keys(it) if key in rl_keys and rule != "answer_text"), None)
        if hit is not None:
            out.append(Conflict(it.item_id, f"shared_{hit[0]}", rl_keys[hit[1]], hit[1]))
            continue
        final = (sft_answers or {}).get(it.item_id, it.answer)
        found = mentions(f"{it.question}\n{final}", index, longest)
        if found:
            j = min(found)
            out.append(Conflict(it.item_id, "rl_answer_in_sft", rl[j].item_id,
                                f"RL answer {rl[j].answer!r} occurs in the SFT question or final answer"))
    return out


def as_split_item(row: SplitRow) -> SplitItem:
    return SplitItem(*row)


def split_kept(con: Connection, run_id: str, synthesis_hash: str, filter_hash: str, fraction: float, seed: int
               ) -> int:
    """Place every item ``filter_hash`` kept, record ``item_splits`` and the RL side in ``rl_holdout``.

    Reads: ``pool_items``, ``paths``, ``filter_outcomes``. Writes: ``item_splits``, ``rl_holdout`` (both replaced
    for this synthesis config, so a rerun leaves the same rows). Returns how many RL items are new.
    """
    placed = split_items([as_split_item(r) for r in splits_repo.kept_split_rows(con, filter_hash)], fraction, seed)
    return splits_repo.write_splits(con, run_id, synthesis_hash, [
        (p.item_id, p.side, p.rule, p.shared, p.group_key, p.group_size) for p in placed])
