"""Sampled link paths: anchor → bridges → answer node (PAPER.md §2.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["anchor", "bridge", "answer"]
RelationMethod = Literal["infobox_key", "sentence_context", "chronology", "fallback"]


@dataclass(frozen=True, slots=True)
class PathNode:
    title: str
    role: Role


@dataclass(frozen=True, slots=True)
class PathEdge:
    """One hop with the hyperlink's anchor text, its sentence, and a relation label derived from them."""

    src: str
    dst: str
    anchor_text: str
    sentence: str
    relation: str
    relation_method: RelationMethod


@dataclass(frozen=True, slots=True)
class SampledPath:
    path_id: str
    wiki: str
    seed_title: str
    domain: str
    hops: int
    nodes: tuple[PathNode, ...]
    edges: tuple[PathEdge, ...]
    answer_attribute: str
    answer: str
    retries: int            # failed attempts before the one that produced this path
    sampling_hash: str
    seed: int


@dataclass(frozen=True, slots=True)
class SeedReject:
    wiki: str
    seed_title: str
    reason: str
    detail: str
