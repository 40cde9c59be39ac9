"""The card's split, search-backend and decontamination sections, and path redaction (pure rendering)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tasks.export.card import CardData, render_card
from tasks.export.redact import REPO_ROOT, local_paths, redact_paths


def card(**kw: object) -> str:
    base: dict[str, object] = {
        "name": "demo-sft2-rl1", "title": "t", "run_id": "r", "export_hash": "h", "schema_version": "1",
        "sft_rows": 2, "rl_train": 1, "rl_validation": 0, "sft_size": 10, "rl_size": 5, "validation_pct": 10,
        "seed": 42, "load_path": "x", "funnel": [], "gates": [], "usage": {}, "labels": {}, "articles": [],
        "images": [], "run_config": None}
    base.update(kw)
    return render_card(CardData(**base))  # type: ignore[arg-type]


def test_split_section_reports_counts_per_rule_and_guard_drops() -> None:
    text = card(split_rules=[("sft", "path_prefix", 6), ("sft", "drawn", 2), ("rl", "drawn", 1)],
                split_dropped=Counter({"split:rl_answer_in_sft": 2}))
    assert "| sft | path_prefix | 6 |" in text and "| rl | drawn | 1 |" in text
    assert "`split:rl_answer_in_sft` 2" in text


def test_decontamination_section_names_benchmarks_rows_images_and_drops() -> None:
    none = card()
    assert "None configured" in none
    text = card(benchmarks=[{"name": "mmsearch", "where": "<data_dir>/benchmarks/mmsearch"}],
                decontam_notes={"benchmark_rows:mmsearch": 300, "benchmark_images:mmsearch": 296},
                decontam_dropped=[("mmsearch", "image_match", 3), ("mmsearch", "question_paraphrase", 1)])
    assert "| mmsearch | <data_dir>/benchmarks/mmsearch | 300 | 296 | 4 |" in text
    assert "- mmsearch: 3 dropped by `image_match`" in text and "None configured" not in text


def test_backends_are_named() -> None:
    text = card(backends={"text_search": ["remote Serper-style web search API at api.example"],
                          "image_search": ["local index"]})
    assert "- `text_search`: remote Serper-style web search API at api.example" in text


def test_snippet_default_and_no_local_path_in_the_card(tmp_path: Path) -> None:
    text = card(data_dir_default="var", run_config=json.dumps({"ingest": {"path": f"{tmp_path}/x.xml"}}))
    assert 'os.environ.get("SEARCHVL_DATA_DIR", "var"), "export", "demo-sft2-rl1"' in text
    assert local_paths(text)                     # an unredacted config would leak the path ...
    redacted = redact_paths({"a": f"{tmp_path}/x.xml", "b": str(REPO_ROOT / "corpus" / "p.xml"),
                             "c": f"see {tmp_path}/y for details"}, tmp_path)
    assert redacted == {"a": "<data_dir>/x.xml", "b": "corpus/p.xml", "c": "see <data_dir>/y for details"}
    assert not local_paths(str(redacted))        # ... the export redacts it first
    assert local_paths("https://en.wikipedia.org/wiki/A_b plots/hops.png") == []
