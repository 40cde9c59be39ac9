"""Grounding rules: a trajectory may use only what it saw. Code checks run on every trajectory of every
teacher (the offline path-guided one and any model) before its process judge; the first rule broken is
the trajectory's reject reason.

Rules, in the order they are reported:

1. ``schema_conformity`` — every assistant turn parses (``<think>`` + one action) and every tool call
   names an advertised tool and matches its JSON schema exactly: required keys present, no unknown
   keys, no aliases (``image_search`` takes ``image``, not ``url``), values of the advertised type and
   range. The environment's own argument models accept some aliases; the SFT target may not, since it
   is trained against the advertised schema.
2. ``hidden_label`` — no assistant text repeats the item's hidden state: the degradation kind the image
   got (or the word "degradation"), or a hidden label such as a gate score, unless an observation
   already showed it.
3. ``entity_provenance`` — every path-node name and every
   capitalised entity that an assistant turn writes in ``<think>`` or a tool argument already appears
   in the question or an earlier observation (compared folded, whole words). A capitalised run that
   is not found as a whole passes when it splits into runs that are each found; the first word of a
   sentence and a few measurement terms are not taken for entities (a path node there is still caught).
4. ``answer_provenance`` — the final answer (the ``\\boxed{}`` content) is a span of a tool observation
   after folding; when the final turn names pages whose passages were returned, one of those passages
   contains it (the answer comes from the page the trajectory says it came from).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.synthesis import Trajectory
from toolenv import FinalAnswer, ProtocolError, ToolCall, parse_turn
from toolenv.judging import extract_answer, fold, passages

RULE_ORDER = ("schema_conformity", "hidden_label", "entity_provenance", "answer_provenance")
_CAPS = re.compile(r"[A-Z][\w'’.\-]*(?:[ \t]+[A-Z][\w'’\-]*)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_OPENS = re.compile(r"(?:^|[.!?:;]\s+|\n\s*|[\"“(]\s*)$")
_IMAGE_ID = re.compile(r"^img_\d+$")
_TOOL_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
#: Words that open a sentence without naming anything, and measurement terms (checked only when the word
#: is in no context).
OPENERS = frozenset([
    "a", "an", "the", "this", "that", "these", "those", "it", "its", "i", "we", "now", "next", "then", "so", "first",
    "finally", "search", "look", "reverse", "upscale", "sharpen", "crop", "read", "repair", "straighten", "identify",
    "evidence", "answer", "step", "no", "none", "nothing", "neither", "one", "two", "three", "there", "here", "both",
    "after", "before", "since", "because", "as", "to", "of", "in", "on", "at", "for", "with", "from", "by", "which",
    "what", "who", "whose", "where", "when", "how", "why", "url", "urls", "passage", "passages", "page", "pages",
    "image", "images", "title", "titles", "summary",
    # the vocabulary of measuring an image, which names no entity
    "laplacian", "gaussian", "ocr", "json", "px", "variance", "width", "height", "widen", "match", "matches",
])


@dataclass(frozen=True, slots=True)
class Hidden:
    """What the item knows and the policy must not: the path, the reference, the degradation, other labels."""

    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    degradation: str | None = None
    labels: tuple[str, ...] = ()          # e.g. gate scores as written in the warehouse


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    turn: int
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: turn {self.turn}: {self.detail}"


def _words(text: str) -> str:
    return f" {fold(text)} "


def _has(hay: str, needle: str) -> bool:
    folded = fold(needle)
    return bool(folded) and f" {folded} " in hay


# ----------------------------------------------------------------------------- schema conformity
_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                       "boolean": (bool,), "object": (dict,), "array": (list,)}


def _value_problem(name: str, value: Any, spec: Mapping[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, str):
        ok = isinstance(value, _TYPES.get(kind, (object,)))
        if kind in ("integer", "number") and isinstance(value, bool):
            ok = False
        if not ok:
            return f"{name}: expected {kind}, got {type(value).__name__}"
    if "enum" in spec and value not in spec["enum"]:
        return f"{name}: {value!r} not in {spec['enum']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < spec.get("minimum", value) or value > spec.get("maximum", value):
            return f"{name}: {value} out of range"
        if "exclusiveMinimum" in spec and value <= spec["exclusiveMinimum"]:
            return f"{name}: {value} must be > {spec['exclusiveMinimum']}"
    if isinstance(value, str) and not spec.get("minLength", 0) <= len(value) <= spec.get("maxLength", len(value)):
        return f"{name}: length {len(value)} out of range"
    return None


def schema_problem(name: str, arguments: Mapping[str, Any], schemas: Sequence[Mapping[str, Any]]) -> str | None:
    """Why ``name(arguments)`` does not match the advertised schema exactly, or None."""
    by_name = {s["function"]["name"]: s["function"].get("parameters", {}) for s in schemas}
    if name not in by_name:
        return f"{name!r} is not an advertised tool"
    params = by_name[name]
    props: Mapping[str, Any] = params.get("properties", {})
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        return f"{name}: unknown argument(s) {unknown}"
    missing = [k for k in params.get("required", []) if k not in arguments]
    if missing:
        return f"{name}: missing required argument(s) {missing}"
    for key, value in arguments.items():
        problem = _value_problem(key, value, props[key])
        if problem:
            return f"{name}: {problem}"
    return None


# ----------------------------------------------------------------------------- entities


def capitalised_runs(text: str) -> list[tuple[str, bool]]:
    """Runs of capitalised words (``Atlantic Ocean``), without image ids and tool names, each with whether it
    opens a sentence."""
    clean = _TOOL_NAME.sub(" ", text)
    return [(_POSSESSIVE.sub("", m.group(0).rstrip(".")), bool(_OPENS.search(clean[:m.start()])))
            for m in _CAPS.finditer(clean)]


def unseen_entities(text: str, context: str) -> list[str]:
    """Capitalised words of ``text`` that the folded ``context`` does not contain (see rule 3). The first word
    of a sentence is capitalised anyway ("Enough evidence."): it counts only inside a run that names something
    seen ("Luanda Angola" splits into seen runs) — a path node there is caught by the node rule."""
    missing: list[str] = []
    for run, opens in capitalised_runs(text):
        words = run.split()
        i = 0
        while i < len(words):
            j = next((j for j in range(len(words), i, -1) if _has(context, " ".join(words[i:j]))), None)
            if j is None:
                word = words[i]
                if fold(word) and fold(word) not in OPENERS and not (opens and i == 0):
                    missing.append(word)
                i += 1
            else:
                i = j
    return missing


def _assistant_texts(turn: ToolCall | FinalAnswer) -> list[str]:
    if isinstance(turn, FinalAnswer):
        return [turn.think]
    args = [str(v) for v in turn.arguments.values() if isinstance(v, str) and not _IMAGE_ID.match(v)]
    return [turn.think, *args]


# ----------------------------------------------------------------------------- the check


def _hidden_terms(hidden: Hidden) -> list[str]:
    terms = list(hidden.labels)
    if hidden.degradation:
        terms += [hidden.degradation, "degradation"]
    return [t for t in terms if t]


def check(traj: Trajectory, hidden: Hidden, schemas: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Every grounding rule ``traj`` breaks, in turn order (empty when it is grounded)."""
    found: list[Violation] = []
    context = _words(hidden.question)
    names = [n for n in hidden.nodes if fold(n)]
    hidden_terms = _hidden_terms(hidden)
    observations: list[str] = []
    final_think = ""
    for t in traj.turns:
        if t.role in ("tool", "user", "system"):
            if t.role == "tool":
                observations.append(t.content)
            context += _words(t.content)
            continue
        if t.role != "assistant":
            continue
        parsed = parse_turn(t.content)
        if isinstance(parsed, ProtocolError):
            found.append(Violation("schema_conformity", t.index, f"not a well-formed turn: {parsed.message}"))
            continue
        if isinstance(parsed, ToolCall):
            problem = schema_problem(parsed.name, parsed.arguments, schemas)
            if problem:
                found.append(Violation("schema_conformity", t.index, problem))
        else:
            final_think = parsed.think
        for text in _assistant_texts(parsed):
            bare = _words(_TOOL_NAME.sub(" ", text))
            for term in hidden_terms:
                if _has(bare, term) and not _has(context, term):
                    found.append(Violation("hidden_label", t.index, f"says {term!r}, which no observation showed"))
            for name in names:
                if _has(bare, name) and not _has(context, name):
                    found.append(Violation("entity_provenance", t.index, f"names {name!r} before any observation "
                                                                         "showed it"))
            for word in unseen_entities(text, context):
                found.append(Violation("entity_provenance", t.index, f"names {word!r}, which neither the question "
                                                                     "nor an earlier observation contains"))
    found.extend(_answer_problems(traj, observations, final_think))
    order = {r: i for i, r in enumerate(RULE_ORDER)}
    return sorted(_dedup(found), key=lambda v: (order[v.rule], v.turn))


def _answer_problems(traj: Trajectory, observations: list[str], final_think: str) -> list[Violation]:
    if not traj.final_answer:
        return []
    last = max((t.index for t in traj.turns if t.role == "assistant"), default=0)
    answer = extract_answer(traj.final_answer)
    if not fold(answer):
        return []
    if not any(_has(_words(o), answer) for o in observations):
        return [Violation("answer_provenance", last, f"the answer {answer!r} is in no observation")]
    think = _words(final_think)
    pages = [(title, summary) for o in observations for title, summary in passages(o)]
    cited = [(title, summary) for title, summary in pages if _has(think, title)]
    if cited and not any(_has(_words(s), answer) for _, s in cited):
        titles = sorted({title for title, _ in cited})
        return [Violation("answer_provenance", last, f"no passage of the page(s) it cites {titles} states "
                                                     f"{answer!r}")]
    return []


def _dedup(items: Iterable[Violation]) -> list[Violation]:
    return list(dict.fromkeys(items))


def reason(violations: Sequence[Violation]) -> str | None:
    """The reject reason: the first rule broken (``RULE_ORDER``), or None."""
    return violations[0].rule if violations else None
