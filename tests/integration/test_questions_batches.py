"""The question stage in batches (issue 16): any batch size writes the same items as one item at a time, the
diversity caps stay exact across batch boundaries, and a crash in the middle of a batch loses that batch only.

The bundled corpus with tight caps (one accepted item per anchor + first bridge, two per anchor), so that
items are dropped by a cap that an item of an earlier batch, or earlier in the same batch, filled.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from schemas.paths import PathEdge, PathNode
from schemas.run_config import QuestionsConfig, load_run_config
from schemas.settings import Settings
from tasks.questions import stage
from tasks.questions.pipeline import make_question
from tasks.questions.stage import question_all, text_index
from tests.factories import ingest_and_sample
from warehouse import questions as repo
from warehouse.compare import diff_warehouses
from warehouse.db import Connection, connect

ROOT = Path(__file__).resolve().parents[2]
CFG = load_run_config(ROOT / "flows/configs/demo.yaml")
QCFG = CFG.questions.model_copy(update={"max_per_anchor": 2, "max_per_prefix": 1})


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the bundled corpus ingested and sampled, no items yet."""
    data = tmp_path_factory.mktemp("sampled")
    with connect(data / "warehouse.duckdb") as con:
        ingest_and_sample(con, data, CFG.ingest.sources[0], CFG.sampling, CFG.ingest)
    return data


def run(sampled: Path, tmp_path: Path, name: str, cfg: QuestionsConfig = QCFG,
        batch_size: int = stage.BATCH_SIZE) -> tuple[Path, Counter[tuple[str, str]]]:
    data = tmp_path / name
    shutil.copytree(sampled, data)
    with connect(data / "warehouse.duckdb") as con:
        counts = question_all(con, cfg, "run-test", data, Settings(), text_index, batch_size=batch_size)
    return data / "warehouse.duckdb", counts


def test_any_batch_size_writes_the_same_items(sampled: Path, tmp_path: Path) -> None:
    one, counts = run(sampled, tmp_path, "one", batch_size=1)
    assert counts[("dropped", "diversity:prefix_cap")] and counts[("dropped", "diversity:anchor_cap")]
    assert counts[("kept", "accepted")] >= 3
    for size in (3, 7, stage.BATCH_SIZE):
        db, again = run(sampled, tmp_path, f"b{size}", batch_size=size)
        assert again == counts, size
        assert diff_warehouses(one, db) == [], size


def test_caps_count_items_accepted_before_a_rerun(sampled: Path, tmp_path: Path) -> None:
    """Items written by an earlier run (here: one with a preview cap) fill the caps of the next run."""
    whole, _ = run(sampled, tmp_path, "whole")
    db, first = run(sampled, tmp_path, "parts", cfg=QCFG.model_copy(update={"max_items": 5}), batch_size=2)
    assert sum(first.values()) == 5
    with connect(db) as con:
        question_all(con, QCFG, "run-test", db.parent, Settings(), text_index, batch_size=4)
    assert diff_warehouses(whole, db) == []


def test_a_crash_in_a_batch_loses_that_batch_only(sampled: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    reference, _ = run(sampled, tmp_path, "reference")
    real = make_question
    calls = {"n": 0}

    def crashing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("killed")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("tasks.questions.stage.make_question", crashing)
    data = tmp_path / "crashed"
    shutil.copytree(sampled, data)
    db = data / "warehouse.duckdb"
    with connect(db) as con, pytest.raises(RuntimeError, match="killed"):
        question_all(con, QCFG, "run-test", data, Settings(), text_index, batch_size=4)
    with connect(db) as con:
        written = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                   for t in ("question_items", "rewrite_steps", "gate_verdicts")]
        rejects = con.execute("SELECT count(*) FROM rejects WHERE stage = 'questions'").fetchall()[0][0]
        statuses = dict(con.execute("SELECT status, count(*) FROM question_items GROUP BY 1").fetchall())
    assert written[0] and written[0] % 4 == 0, "whole batches only"       # batch 1 (at least) written, not the one hit
    assert written[1] and written[2] and rejects == statuses.get("rejected", 0)
    monkeypatch.setattr("tasks.questions.stage.make_question", real)
    with connect(db) as con:
        question_all(con, QCFG, "run-test", data, Settings(), text_index, batch_size=4)
    assert diff_warehouses(reference, db) == []


def _page(con: Connection, title: str, kind: str | None = None, box: dict[str, str] | None = None,
          redirect: str | None = None, lead: str = "") -> None:
    con.execute("INSERT INTO pages (wiki, title, namespace, redirect_target, is_disambiguation, lead_text,"
                " infobox_type, infobox) VALUES ('w', ?, 0, ?, false, ?, ?, ?)",
                [title, redirect, lead, kind, box])


def test_batch_readers_answer_per_key(warehouse: Connection) -> None:
    """The one-query-per-batch readers: per-key answers in the order the per-item queries gave."""
    con = warehouse
    _page(con, "Algeria", "country", {"languages": "Arabic, Berber", "capital": "Algiers"}, lead="Algeria is …")
    for t in ("Arabic", "Berber"):
        _page(con, t, "language")
    _page(con, "Algiers", "city")
    _page(con, "Arab tongue", redirect="Arabic")
    links = [(0, "Arab tongue", "languages"), (1, "Berber", "languages"), (2, "Arabic", "official_languages"),
             (3, "Algiers", None), (4, "Algeria", None), (5, "Nowhere", "languages")]
    con.executemany("INSERT INTO links VALUES ('w', 'Algeria', ?, ?, ?, ?, ?)",
                    [[o, t, t, f"s{o}", k] for o, t, k in links])
    con.executemany("INSERT INTO aliases VALUES ('w', ?, ?, ?)",
                    [["Algeria", "People's Democratic Republic of Algeria", "infobox_name"],
                     ["Algeria", "Al-Jazair", "bold_lead"], ["Ghost", "Spook", "bold_lead"]])

    facts = repo.page_facts(con, "w", ["Arabic", "Algeria", "Ghost", "Missing", "Algeria"])
    assert list(facts) == ["Arabic", "Algeria", "Ghost"]              # no page and no alias: absent
    assert facts["Arabic"].aliases == ("Arab tongue", "Arabic")        # ORDER BY kind, alias: redirect < title
    assert facts["Algeria"].aliases == ("Al-Jazair", "People's Democratic Republic of Algeria", "Algeria")
    assert facts["Ghost"] == repo.PageFacts("", None, (), ("Spook",))
    ctx = facts["Algeria"].context(PathNode("Algeria", "anchor"))
    assert ctx.aliases == ("Algeria", "Al-Jazair", "People's Democratic Republic of Algeria")   # its title first
    assert ctx.infobox == {"languages": "Arabic, Berber", "capital": "Algiers"} and ctx.lead == "Algeria is …"
    ctx.infobox.clear()
    assert facts["Algeria"].context(PathNode("Algeria", "anchor")).infobox, "each context gets its own infobox"

    def edge(dst: str, method: str = "infobox_key") -> PathEdge:
        return PathEdge("Algeria", dst, dst, "", "the languages of {x}", method)  # type: ignore[arg-type]

    fan = repo.relation_fanout(con, "w", [edge("Arabic"), edge("Algiers"), edge("Berber", "sentence_context")])
    # Arabic: first link to it (via the redirect) sits under languages, which links Arabic, Berber and a red link
    assert fan == {("Algeria", "Arabic"): 3, ("Algeria", "Algiers"): 1}

    out = repo.out_links(con, "w", ["Algeria", "Algiers"])
    assert list(out) == ["Algeria"]
    assert [(d, a, k, ty) for d, a, _s, k, ty in out["Algeria"]] == [
        ("Algiers", "Algiers", None, "city"), ("Arabic", "Arab tongue", "languages", "language"),
        ("Berber", "Berber", "languages", "language")]                  # no self-link, no red link; first link wins
