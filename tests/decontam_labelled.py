"""The labelled set for text decontamination: benchmark questions about entities of the bundled corpus
(``corpus/enwiki-sample``), their rewrites (must be caught) and unrelated questions (must pass).

Rewrites are written by hand per relation, one or more per kind:
- ``swap``: two or three words replaced by synonyms or near-synonyms;
- ``reorder``: the same words in another order (fronted phrase, possessive);
- ``voice``: active ↔ passive, or the question turned around;
- ``short``: a telegraphic question of under 8 tokens;
plus ``free``: hand-written free-form paraphrases of natural questions.

Unrelated questions are every rewrite of a (entity, relation) pair *not* in the benchmark, which includes the
hard cases: the same relation about another entity, and another relation about the same entity. Answers:
a paraphrase carries the benchmark's answer in every other case (the same-answer thresholds), an unrelated
question its own answer.
"""

from __future__ import annotations

from dataclasses import dataclass

PLACES = ["Afghanistan", "Albania", "Algeria", "Angola", "Azerbaijan", "Alabama", "Alaska", "Alberta", "Berlin",
          "France", "Kenya", "Peru", "Norway", "Vietnam", "Chile", "Egypt", "Portugal", "Mongolia",
          "Japan", "Ghana", "Iceland"]
PEOPLE = ["Aristotle", "Albert Einstein", "Ayn Rand", "Andrei Tarkovsky", "Angela Merkel", "Arthur Schopenhauer",
          "Plato", "Isaac Newton", "Marie Curie", "Leo Tolstoy", "Frida Kahlo", "Ada Lovelace",
          "Charles Darwin", "Jane Austen"]
ANIMALS = ["Aardvark", "Aardwolf", "red fox", "snow leopard", "giant panda", "koala", "platypus", "walrus"]
WORKS = ["Apollo 11", "Apollo 8", "the abacus", "IBM", "Animalia", "America the Beautiful",
         "the Articles of Confederation", "the Eiffel Tower", "Wikipedia", "the telephone"]

# relation -> (entities, benchmark template, {kind: [rewrites]})
RELATIONS: dict[str, tuple[list[str], str, dict[str, list[str]]]] = {
    "capital": (PLACES, "What is the capital city of {e}?", {
        "swap": ["Which city is the capital of {e}?", "What town is the capital of {e}?"],
        "reorder": ["Of {e}, what is the capital city?", "{e}'s capital city is what?"],
        "voice": ["Which city serves as the capital of {e}?"],
        "short": ["{e} capital city?", "Capital of {e}?"]}),
    "population": (PLACES, "What was the population of {e} at the last census?", {
        "swap": ["What was the number of inhabitants of {e} at the last census?",
                 "What was the population of {e} in the latest census?"],
        "reorder": ["At the last census, what was the population of {e}?"],
        "voice": ["How many people were counted in {e} by the last census?"],
        "short": ["{e} population, last census?"]}),
    "language": (PLACES, "Which language is the official language of {e}?", {
        "swap": ["What tongue is the official language of {e}?", "Which language is official in {e}?"],
        "reorder": ["In {e}, which language is the official one?"],
        "voice": ["Which language has {e} made official?"],
        "short": ["Official language of {e}?"]}),
    "largest_city": (PLACES, "What is the largest city in {e} by population?", {
        "swap": ["What is the biggest city in {e} by number of residents?"],
        "reorder": ["By population, what is the largest city in {e}?"],
        "voice": ["Which city in {e} has the largest population?"],
        "short": ["Largest city in {e}?"]}),
    "birthplace": (PEOPLE, "In which city was {e} born?", {
        "swap": ["In what town was {e} born?", "In which city was {e} born originally?"],
        "reorder": ["{e} was born in which city?"],
        "voice": ["Which city is the birthplace of {e}?"],
        "short": ["{e}'s birthplace?"]}),
    "teacher": (PEOPLE, "Who was the most important teacher of {e}?", {
        "swap": ["Who was the most important tutor of {e}?"],
        "reorder": ["The most important teacher of {e} was who?"],
        "voice": ["By whom was {e} taught most importantly?"],
        "short": ["{e}'s most important teacher?"]}),
    "famous_work": (PEOPLE, "What is the most famous work written by {e}?", {
        "swap": ["What is the best known work written by {e}?", "What is the most renowned book written by {e}?"],
        "reorder": ["Written by {e}, what is the most famous work?"],
        "voice": ["What most famous work did {e} write?"],
        "short": ["{e}'s most famous work?"]}),
    "death_year": (PEOPLE, "In what year did {e} die?", {
        "swap": ["In which year did {e} pass away?"],
        "reorder": ["{e} died in what year?"],
        "voice": ["What year saw the death of {e}?"],
        "short": ["{e} death year?"]}),
    "diet": (ANIMALS, "What does the {e} mainly eat in the wild?", {
        "swap": ["What does the {e} mostly eat in the wild?", "What food does the {e} mainly eat in nature?"],
        "reorder": ["In the wild, what does the {e} mainly eat?"],
        "voice": ["What is mainly eaten by the {e} in the wild?"],
        "short": ["{e} wild diet?"]}),
    "habitat": (ANIMALS, "In which region does the {e} live naturally?", {
        "swap": ["In which area does the {e} live naturally?"],
        "reorder": ["Naturally, in which region does the {e} live?"],
        "voice": ["Which region is naturally inhabited by the {e}?"],
        "short": ["{e} natural region?"]}),
    "creator": (WORKS, "Who created {e}?", {
        "swap": ["Who invented {e}?", "Who made {e}?"],
        "reorder": ["{e} was created by whom?"],
        "voice": ["By whom was {e} created?"],
        "short": ["{e} creator?"]}),
    "year": (WORKS, "In which year was {e} first completed?", {
        "swap": ["In what year was {e} first finished?"],
        "reorder": ["{e} was first completed in which year?"],
        "voice": ["Which year saw {e} first completed?"],
        "short": ["{e} completion year?"]}),
}
BENCHMARK_ENTITIES = {"capital": 9, "population": 9, "language": 9, "largest_city": 9, "birthplace": 6,
                      "teacher": 6, "famous_work": 6, "death_year": 6, "diet": 4, "habitat": 4, "creator": 5,
                      "year": 5}
"""How many entities of each relation are in the benchmark (the first ones of its list); the rest are unrelated."""

FREE = [  # (benchmark question, answer, hand-written paraphrases)
    ("Which philosopher was the tutor of Alexander the Great?", "Aristotle",
     ["Alexander the Great was tutored by which philosopher?", "Who was the philosopher that tutored Alexander?"]),
    ("What is the name of the spacecraft that first landed humans on the Moon?", "Apollo 11",
     ["Which spacecraft first put humans on the Moon?", "Humans first landed on the Moon aboard which spacecraft?"]),
    ("Which novel by Ayn Rand features the character John Galt?", "Atlas Shrugged",
     ["In which Ayn Rand novel does John Galt appear?", "John Galt is a character in which novel by Ayn Rand?"]),
    ("Which ocean lies to the west of Angola?", "Atlantic Ocean",
     ["West of Angola lies which ocean?", "What ocean borders Angola on the west?"]),
    ("What did Albert Einstein receive the Nobel Prize in Physics for?", "the photoelectric effect",
     ["For what was Albert Einstein awarded the Nobel Prize in Physics?",
      "Einstein's Nobel Prize in Physics was awarded for what discovery?"]),
    ("Which German chancellor led the country from 2005 to 2021?", "Angela Merkel",
     ["Who was chancellor of Germany from 2005 until 2021?", "From 2005 to 2021, which chancellor led Germany?"]),
    ("Which mountain range runs along the eastern border of Albania?", "Korab",
     ["Along Albania's eastern border runs which mountain range?"]),
    ("Which river forms part of the border between Alabama and Georgia?", "Chattahoochee River",
     ["Part of the Alabama-Georgia border is formed by which river?"]),
    ("Which film by Andrei Tarkovsky is set on a space station orbiting a planet?", "Solaris",
     ["Which Andrei Tarkovsky film takes place on a space station orbiting a planet?"]),
    ("Which insects does the aardwolf mainly feed on?", "termites",
     ["The aardwolf feeds mainly on which insects?", "What insects make up most of the aardwolf's diet?"]),
]


@dataclass(frozen=True, slots=True)
class Labelled:
    question: str
    answer: str
    kind: str                     # swap | reorder | voice | short | free | unrelated
    benchmark: int | None         # index into benchmarks() for a paraphrase


def _answer(rel: str, e: str) -> str:
    return f"{rel}-answer-of-{e}".replace(" ", "-")


def benchmarks() -> list[tuple[str, str]]:
    """``(question, answer)`` rows of the benchmark."""
    out = [(tpl.format(e=e), _answer(rel, e)) for rel, (ents, tpl, _) in RELATIONS.items()
           for e in ents[:BENCHMARK_ENTITIES[rel]]]
    return out + [(q, a) for q, a, _ in FREE]


def labelled() -> list[Labelled]:
    """Every rewrite of a benchmark question (positives) and every question about a pair not in it (negatives)."""
    bench = {q: i for i, (q, _) in enumerate(benchmarks())}
    out: list[Labelled] = []
    k = 0
    for rel, (ents, tpl, kinds) in RELATIONS.items():
        for n, e in enumerate(ents):
            in_bench = n < BENCHMARK_ENTITIES[rel]
            forms = [(kind, t) for kind, ts in kinds.items() for t in ts]
            if not in_bench:
                forms.append(("unrelated", tpl))
            for kind, t in forms:
                q = t.format(e=e)
                if in_bench:
                    k += 1
                    answer = _answer(rel, e) if k % 2 else f"other-{k}"
                    out.append(Labelled(q[0].upper() + q[1:], answer, kind, bench[tpl.format(e=e)]))
                else:
                    out.append(Labelled(q[0].upper() + q[1:], _answer(rel, e), "unrelated", None))
    for q, a, paraphrases in FREE:
        for p in paraphrases:
            out.append(Labelled(p, a, "free", bench[q]))
    return out + [Labelled(q, f"general-{i}", "unrelated", None) for i, q in enumerate(GENERAL)]


GENERAL = [  # unrelated general-knowledge questions in benchmark style (no benchmark entity, mixed templates)
    "What is the boiling point of water at sea level in degrees Celsius?",
    "How many strings does a standard violin have?",
    "Which planet is known as the Red Planet?",
    "What is the chemical symbol for gold?",
    "Who painted the ceiling of the Sistine Chapel?",
    "Which instrument has 88 keys?",
    "What is the longest river in South America?",
    "Which gas do plants absorb from the air?",
    "How many players are on a football team on the field?",
    "What is the hardest natural substance?",
    "Which composer wrote the Moonlight Sonata?",
    "What is the tallest mountain in Africa?",
    "Which bird is the symbol of peace?",
    "What shape is a stop sign in the United States?",
    "How many sides does a hexagon have?",
    "Which sport uses a shuttlecock?",
    "What colour are the flowers of this plant?",
    "What is the name of this building?",
    "Who designed the building shown in the image?",
    "What breed is the dog in the picture?",
]
