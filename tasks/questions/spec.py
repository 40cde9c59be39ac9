"""From a sampled path to a question spec, and from a spec to question text (rule-based templates).

The canonical question names the anchor and every bridge and reaches the answer node only through
relations, asking for the answer attribute (PAPER.md §3.1):

    What is the <attribute> of the <rel_h> of <v_{h-1}>, which is the <rel_{h-1}> of <v_{h-2}>, …?

Relations that come from an infobox key read as nouns ("the capital of Algeria"); relations that come
from sentence context are quoted ("the city linked after \"most populous city is\" in the article on
Algeria"); an edge with no usable label reads "the country mentioned in the article on Asia".
Rewriting replaces the surfaces of bridges; grounding replaces the anchor's surface.
"""

from __future__ import annotations

import re
from dataclasses import replace

from schemas.paths import PathEdge
from schemas.questions import Hop, HopKind, NodeContext, QuestionSpec
from tasks.sample.relations import render_relation

ATTRIBUTE_PHRASES = {
    "birth_date": "date of birth", "death_date": "date of death", "born": "date of birth", "died": "date of death",
    "founded": "founding date", "established": "establishment date", "established_date": "establishment date",
    "formation": "formation date", "opened": "opening date", "released": "release date",
    "population_total": "total population", "population": "population", "area_total_km2": "total area in km²",
    "currency": "currency", "capital": "capital", "party": "political party", "genre": "genre",
    "occupation": "occupation", "nationality": "nationality", "spouse": "spouse", "leader_name1": "leader",
    "elevation_m": "elevation in metres", "length_km": "length in km", "crew_size": "crew size",
    "launch_date": "launch date", "mission_duration": "mission duration", "operator": "operator",
    "recorded": "recording date", "length": "running time",
}
OBFUSCATED = {
    "date of birth": "When did {x} come into the world?",
    "date of death": "When did the life of {x} end?",
    "founding date": "When did {x} come into being?",
    "establishment date": "When did {x} come into being?",
    "formation date": "When did {x} come into being?",
    "opening date": "When did {x} first open its doors?",
    "release date": "When did {x} first come out?",
    "total population": "Roughly how many people were counted living in {x}?",
    "population": "Roughly how many people were counted living in {x}?",
    "currency": "What money is used in {x}?",
    "political party": "Which political organisation was {x} affiliated with?",
    "occupation": "What did {x} do for a living?",
    "launch date": "When did {x} leave the ground?",
}
#: Attributes whose value is a person: the question asks "Who is …".
PERSON_ATTRIBUTES = frozenset({"producer", "director", "writer", "composer", "lyricist", "author", "spouse",
                               "leader", "mayor", "founder", "architect", "designer", "editor", "publisher",
                               "narrator", "presenter", "creator", "artist", "coach", "manager", "owner"})
DOMAIN_NOUNS = {"person": "person", "organism": "organism"}
_TYPE_NOISE = re.compile(r"^(infobox|infoskreine)\s*", re.IGNORECASE)
_PERSON_TYPES = ("person", "officeholder", "philosopher", "writer", "scientist", "artist", "musical artist",
                 "military person", "sportsperson", "royalty", "politician", "actor", "astronaut", "biography")


def type_noun(node: NodeContext) -> str:
    """A short common noun for a node ("country", "person", "settlement"), from its infobox type."""
    return noun_of(node.infobox_type)


def noun_of(infobox_type: str | None) -> str:
    kind = _TYPE_NOISE.sub("", (infobox_type or "").strip().lower()).strip()
    if not kind:
        return "subject"
    if any(p in kind for p in _PERSON_TYPES):
        return "person"
    if kind in ("u.s. state", "german state", "state"):
        return "state"
    if kind in ("taxobox", "speciesbox", "automatic taxobox"):
        return "organism"
    return kind.split(" or ")[0]


def attribute_phrase(key: str) -> str:
    k = key.strip().lower()
    return ATTRIBUTE_PHRASES.get(k) or re.sub(r"[_\s]+", " ", re.sub(r"\d+$", "", k)).strip() or k


def build_spec(nodes: list[NodeContext], edges: list[PathEdge], attribute: str) -> QuestionSpec:
    """The canonical spec: every named node at its title, one ``Hop`` per edge."""
    hops = tuple(
        Hop(edge.relation, "clause" if "{x}" in edge.relation else _HOP_KIND[edge.relation_method], type_noun(target))
        for edge, target in zip(edges, nodes[1:], strict=True)
    )
    return QuestionSpec(attribute, attribute_phrase(attribute), hops, tuple(n.title for n in nodes[:-1]))


_HOP_KIND: dict[str, HopKind] = {"infobox_key": "noun", "sentence_context": "context", "fallback": "link"}


def _describe(hop: Hop, of: str) -> str:
    if hop.kind == "clause":
        return render_relation(hop.phrase, of, hop.noun)
    if hop.kind == "noun":
        return f"the {hop.phrase} of {of}"
    if hop.kind == "link":
        return f"the {hop.noun} mentioned in the article on {of}"
    return f"the {hop.noun} linked after \"{hop.phrase}\" in the article on {of}"


def the_one(inner: str, noun: str) -> str:
    """"the album released just after the album in the image" reads "… just after the one in the image": the
    inner description's head noun is dropped when the description around it has the same one."""
    head = f"the {noun} "
    return "the one " + inner[len(head):] if noun != "subject" and inner.startswith(head) else inner


def render(spec: QuestionSpec) -> str:
    """Question text: the answer node through its relation, each named node with an appositive."""
    if spec.text_template is not None:
        return spec.text_template.format(*spec.surfaces)
    h = len(spec.hops)
    desc = spec.surfaces[0]
    for j in range(1, h):
        surface = spec.surfaces[j]
        if "{x}" in surface:      # a relational descriptor: the relation to the previous node is part of it
            desc = surface.replace("{x}", the_one(desc, spec.hops[j - 1].noun))
        else:
            desc = f"{surface}, which is {_describe(spec.hops[j - 1], desc)}"
    last = spec.hops[h - 1]
    target = _describe(last, the_one(desc, last.noun) if last.kind == "clause" else desc)
    if spec.obfuscated and spec.attribute_phrase in OBFUSCATED:
        return OBFUSCATED[spec.attribute_phrase].format(x=target)
    wh = "Who" if spec.attribute_phrase in PERSON_ATTRIBUTES else "What"
    return f"{wh} is the {spec.attribute_phrase} of {target}?"


def can_obfuscate(spec: QuestionSpec) -> bool:
    return spec.text_template is None and spec.attribute_phrase in OBFUSCATED


def templated(spec: QuestionSpec, text: str) -> QuestionSpec | None:
    """``spec`` worded as ``text``: each named node's title becomes a ``{j}`` slot. None when ``text``
    does not name every node exactly once (the canonical question must name them all)."""
    body = text.replace("{", "{{").replace("}", "}}")
    for j, title in enumerate(spec.surfaces):
        matches = [m.start() for m in re.finditer(re.escape(title.replace("{", "{{").replace("}", "}}")), body)]
        if len(matches) != 1:
            return None
        body = body.replace(title, "{" + str(j) + "}", 1)
    return replace(spec, text_template=body)
