"""Offline answer judge: precision and recall on a labelled set of response/reference pairs.

The references are the bundled corpus's answers: every infobox value of ``corpus/enwiki-sample`` that
the path sampler could pick as an answer (``tasks.sample.paths.pick_answer`` with the demo's
``answer_max_tokens``). For each reference the set holds responses that must pass (the exact gold,
other casings, ``\\boxed{}``, "the answer is …", long sentences that state it, a leading article) and
responses that must fail ("X or Y", "Y or X", "either X or Y", "X and Y", "not X", "X?", hedges such
as "probably X" / "I think X", a list of three, another reference of the corpus, "cannot be
determined"). Wrong answers are drawn (seeded) among references that neither contain nor are
contained in the gold after folding, so a wrong answer is wrong.

Ours: ``toolenv.judging.judge_offline``. Baseline (named, common in QA evaluation): SQuAD-style
normalisation (lower-case, no punctuation or articles) and *containment* — correct when the normalised
gold appears in the normalised response. The JSON line's ``ours``/``baseline`` are F1 of the accept
decision; ``precision``/``recall`` are ours (targets ≥ 0.99 each).

Usage: python -m benchmarks.answer_judge_eval
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.run_config import SamplingConfig
from tasks.ingest.xml_dump import parse_dump
from tasks.sample.paths import pick_answer
from toolenv.judging import fold, judge_offline

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "enwiki-sample" / "pages.xml.bz2"


@dataclass(frozen=True, slots=True)
class Pair:
    response: str
    reference: str
    correct: bool
    kind: str


def corpus_answers(path: Path = CORPUS, max_tokens: int = 6) -> list[tuple[str, str, str]]:
    """``(page title, infobox key, value)`` of every value the sampler may pick as an answer."""
    cfg = SamplingConfig(answer_max_tokens=max_tokens)
    found: dict[str, tuple[str, str, str]] = {}
    for _, batch in parse_dump(path, workers=1, batch_pages=50):
        for page in batch:
            infobox = getattr(page, "infobox", None)
            if not infobox:
                continue
            for key, value in infobox.items():
                picked = pick_answer({key: value}, 0.0, cfg, [page.title])
                if picked and fold(picked[1]) and fold(picked[1]) not in found:
                    found[fold(picked[1])] = (page.title, key, picked[1])
    return sorted(found.values())


def _unrelated(gold: str, pool: list[str], rng: random.Random) -> str:
    g = f" {fold(gold)} "
    for _ in range(200):
        other = rng.choice(pool)
        o = f" {fold(other)} "
        if o.strip() and g not in o and o not in g and not set(o.split()) & set(g.split()):
            return other
    raise ValueError(f"no unrelated answer for {gold!r}")


def pairs_for(title: str, key: str, gold: str, pool: list[str], rng: random.Random) -> Iterator[Pair]:
    attr = key.replace("_", " ")
    y, z = _unrelated(gold, pool, rng), _unrelated(gold, pool, rng)
    good = {
        "exact": gold,
        "upper": gold.upper(),
        "lower": gold.lower(),
        "boxed": f"\\boxed{{{gold}}}",
        "answer_is": f"The answer is {gold}.",
        "sentence": f"The {attr} of {title} is {gold}.",
        "long_sentence": f"According to the passage about {title} that the second search returned, which quotes "
                         f"the article's infobox, the {attr} is {gold}, as the evidence chain shows.",
        "boxed_in_sentence": f"The {attr} is \\boxed{{{gold}}}.",
        "article": f"the {gold}",
    }
    bad = {
        "x_or_y": f"{gold} or {y}",
        "y_or_x": f"{y} or {gold}",
        "either": f"It is either {gold} or {y}.",
        "x_and_y": f"{gold} and {y}",
        "not_x": f"not {gold}",
        "is_not_x": f"The {attr} is not {gold}.",
        "question": f"{gold}?",
        "is_it": f"Is it {gold}?",
        "probably": f"Probably {gold}",
        "i_think": f"I think the {attr} is {gold}, but I am not sure.",
        "maybe": f"Maybe {gold}.",
        "list": f"{y}, {gold}, {z}",
        "wrong": y,
        "wrong_sentence": f"The {attr} of {title} is {y}." if fold(gold) not in fold(title) else f"The {attr} is {y}.",
        "wrong_boxed": f"\\boxed{{{z}}}",
        "cannot": "The answer cannot be determined from the evidence found.",
    }
    for kind, text in good.items():
        yield Pair(text, gold, True, kind)
    for kind, text in bad.items():
        yield Pair(text, gold, False, kind)


def labelled_pairs(path: Path = CORPUS, seed: int = 0) -> list[Pair]:
    answers = corpus_answers(path)
    pool = [v for _, _, v in answers]
    rng = random.Random(seed)
    out: list[Pair] = []
    for title, key, gold in answers:
        out.extend(pairs_for(title, key, gold, pool, rng))
    return out


_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalise(text: str) -> str:
    text = "".join(c for c in text.lower() if c not in set(string.punctuation))
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def baseline_judge(response: str, reference: str) -> bool:
    gold = squad_normalise(reference)
    return bool(gold) and f" {gold} " in f" {squad_normalise(response)} "


def ours_judge(response: str, reference: str) -> bool:
    return judge_offline(response, reference).correct


def scores(pairs: list[Pair], judge: Callable[[str, str], bool]) -> tuple[float, float, list[Pair]]:
    """Precision and recall of accepting, and the pairs judged wrongly."""
    tp = fp = fn = 0
    wrong: list[Pair] = []
    for p in pairs:
        got = judge(p.response, p.reference)
        tp += got and p.correct
        fp += got and not p.correct
        fn += (not got) and p.correct
        if got != p.correct:
            wrong.append(p)
    return tp / max(1, tp + fp), tp / max(1, tp + fn), wrong


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def main() -> None:
    from benchmarks._common import emit

    pairs = labelled_pairs()
    p, r, wrong = scores(pairs, ours_judge)
    bp, br, _ = scores(pairs, baseline_judge)
    refs = len({x.reference for x in pairs})
    print(f"{len(pairs)} pairs over {refs} corpus answers ({sum(x.correct for x in pairs)} must pass)")
    print(f"ours (judge_offline):           precision {p:.4f}  recall {r:.4f}")
    print(f"baseline (SQuAD containment):   precision {bp:.4f}  recall {br:.4f}")
    for w in wrong[:20]:
        print(f"  wrong: {w.kind}: {w.response!r} vs {w.reference!r} (should be {w.correct})")
    emit("answer_judge_f1", "F1", _f1(p, r), _f1(bp, br), 1.0, precision=round(p, 4), recall=round(r, 4),
         baseline_precision=round(bp, 4), baseline_recall=round(br, 4), pairs=len(pairs), references=refs,
         meets_targets=p >= 0.99 and r >= 0.99)


if __name__ == "__main__":
    main()
