"""The export stage on the bundled corpus: real DuckDB, real parquet, ``datasets.load_dataset`` on the folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from flows.cli import app
from schemas.run_config import load_run_config
from schemas.shards import ExportManifest, Provenance, RlRow, SftRow
from tasks.export.shards import file_sha256
from tasks.export.stage import export_dataset
from tasks.filter.stage import filter_hash
from tasks.synthesize.stage import synthesis_hash
from tests.factories import DEMO_CONFIG, exported_demo
from warehouse.db import connect

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_demo(tmp_path_factory.mktemp("export"))


def _rows(folder: Path, config: str) -> list[dict[str, object]]:
    return [r for f in sorted((folder / config).glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_load_dataset_reads_both_configs_with_images(exported: Path) -> None:
    sft = datasets.load_dataset(str(exported), "sft", split="train")
    rl = datasets.load_dataset(str(exported), "rl")
    assert len(sft) >= 1 and len(rl["train"]) >= 1      # the demo's groups: a validation split needs >= 2 RL items
    assert isinstance(sft[0]["images"][0], Image.Image) and isinstance(rl["train"][0]["images"][0], Image.Image)
    roles = [t["from"] for t in sft[0]["conversations"]]
    assert roles[0] == "human" and roles[-1] == "gpt" and set(roles) <= {"human", "gpt", "observation"}
    msgs = sft[0]["messages"]
    calls = [m for m in msgs if m["role"] == "assistant" and m["tool_calls"]]
    answers = {m["tool_call_id"] for m in msgs if m["role"] == "tool"}
    assert calls and {c["tool_calls"][0]["id"] for c in calls} == answers
    assert json.loads(calls[0]["tool_calls"][0]["function"]["arguments"])
    assert {t["function"]["name"] for t in json.loads(sft[0]["tools"])} >= {"text_search", "image_search"}
    markers = sum(m["content"].count("<image>") for m in msgs)
    assert markers == len(sft[0]["images"]) == sum(t["value"].count("<image>") for t in sft[0]["conversations"])


def test_rows_validate_carry_provenance_and_are_disjoint(exported: Path) -> None:
    sft = [SftRow.model_validate(r) for r in _rows(exported, "sft")]
    rl = [RlRow.model_validate(r) for r in _rows(exported, "rl")]
    sft_items = {r.item_id for r in sft}
    rl_items = {r.id for r in rl}
    assert sft_items and rl_items and not sft_items & rl_items
    for row in [*sft, *rl]:
        prov = Provenance.model_validate_json(row.provenance)
        assert prov.path and {n.role for n in prov.path} >= {"anchor", "answer"}
        assert all(n.aliases for n in prov.path)
        assert prov.image is not None and prov.image.sha256 and prov.image.license
        assert prov.question_method == "rule-based" and prov.gates
        assert prov.text_license == "CC BY-SA 3.0"           # the bundled revisions are from 2016
    assert all(json.loads(r.provenance)["teacher"] == "path-guided" for r in sft)
    # 90/10 split with seed 42 is recorded per row (validation only when there are >= 2 RL items)
    assert {r.split for r in rl} == ({"train", "validation"} if len(rl) >= 2 else {"train"})
    # the warehouse agrees: export_rows keeps SFT and RL items apart
    with connect(exported.parents[1] / "warehouse.duckdb", read_only=True) as con:
        both = con.execute("SELECT count(*) FROM (SELECT item_id FROM export_rows WHERE config = 'sft' INTERSECT "
                           "SELECT item_id FROM export_rows WHERE config = 'rl')").fetchone()
        n = con.execute("SELECT count(*) FROM export_rows").fetchone()
        held = {r[0] for r in con.execute("SELECT item_id FROM rl_holdout").fetchall()}
        taught = {r[0] for r in con.execute("SELECT item_id FROM trajectories").fetchall()}
    assert both == (0,) and n == (len(sft) + len(rl),)
    # RL rows are exactly the items held out before synthesis (a random draw, not the teacher's failures)
    assert rl_items == held and not held & taught


def test_manifest_card_and_plots(exported: Path) -> None:
    m = ExportManifest.model_validate_json((exported / "manifest.json").read_text())
    assert exported.name == m.name == f"demo-sft{m.sft_rows}-rl{sum(m.rl_rows.values())}"
    for f in m.files:
        assert file_sha256(exported / f.path) == f.sha256
    assert set(m.offline_fallbacks) >= {"rule-based", "path-guided", "alias-match", "heuristic"}
    card = (exported / "README.md").read_text()
    assert card.startswith("---\n") and "config_name: sft" in card and "config_name: rl" in card
    for needle in ("## Funnel", "solved_one_text_search", "## Quality gates", "## Offline fallbacks",
                   "plots/hops.png", "plots/tool_calls.png", "license: cc-by-sa-3.0", "oldid=717066692",
                   "Public domain", "## Run configuration"):
        assert needle in card, needle
    for png in ("hops.png", "tool_calls.png"):
        with Image.open(exported / "plots" / png) as im:
            assert im.format == "PNG" and im.width > 100


def test_unchanged_export_is_not_rewritten_and_limit_previews(exported: Path) -> None:
    data_dir = exported.parents[1]
    cfg = load_run_config(DEMO_CONFIG)
    before = (exported / "manifest.json").stat().st_mtime_ns
    with connect(data_dir / "warehouse.duckdb") as con:
        again = export_dataset(con, data_dir, cfg.export, filter_hash(cfg.filter), "run-2", cfg.name, "2026-01-01",
                             synthesis_hash=synthesis_hash(cfg.synthesis))
        preview = export_dataset(con, data_dir, cfg.export, filter_hash(cfg.filter), "run-3", cfg.name, "2026-01-01",
                                 limit=1,
                             synthesis_hash=synthesis_hash(cfg.synthesis))
    assert again.unchanged and again.folder == exported
    assert (exported / "manifest.json").stat().st_mtime_ns == before
    assert preview.sft_rows == 1 and sum(preview.rl_rows.values()) == 1 and preview.folder.name == "demo-sft1-rl1"
    assert not list((data_dir / "export").glob(".tmp-*"))


def test_a_config_with_no_rows_is_left_out_of_the_card(exported: Path) -> None:
    data_dir = exported.parents[1]
    cfg = load_run_config(DEMO_CONFIG)
    with connect(data_dir / "warehouse.duckdb") as con:
        res = export_dataset(con, data_dir, cfg.export.model_copy(update={"sft_size": 0, "name": "rl-only"}),
                             filter_hash(cfg.filter), "run-4", cfg.name, "2026-01-01",
                             synthesis_hash=synthesis_hash(cfg.synthesis))
    assert res.sft_rows == 0 and not (res.folder / "sft").exists()
    card = (res.folder / "README.md").read_text()
    assert "config_name: sft" not in card and "config_name: rl" in card
    assert len(datasets.load_dataset(str(res.folder), "rl", split="train")) == res.rl_rows["train"]
    with pytest.raises(ValueError, match="BuilderConfig 'sft' not found"):
        datasets.load_dataset(str(res.folder), "sft")


def test_unreadable_image_is_a_reject_and_the_rest_is_written(tmp_path: Path) -> None:
    folder = exported_demo(tmp_path)
    data_dir = folder.parents[1]
    cfg = load_run_config(DEMO_CONFIG)
    with connect(data_dir / "warehouse.duckdb") as con:
        row = con.execute("SELECT v.item_id, v.image_path FROM pool_view v JOIN export_rows r ON r.item_id = v.item_id"
                          " WHERE r.config = 'rl' AND v.degraded_path IS NULL LIMIT 1").fetchone()
        assert row is not None
        item, rel = row
        shared = con.execute("SELECT count(*) FROM export_rows r JOIN pool_items p USING (item_id)"
                             " WHERE p.image_sha256 = (SELECT image_sha256 FROM pool_items WHERE item_id = ?)",
                             [item]).fetchone()
        (data_dir / rel).unlink()
        res = export_dataset(con, data_dir, cfg.export.model_copy(update={"name": "broken"}), filter_hash(cfg.filter),
                             "run-x", cfg.name, "2026-01-01",
                             synthesis_hash=synthesis_hash(cfg.synthesis))
        rejects = con.execute("SELECT unit_id, reason, detail FROM rejects WHERE stage = 'export'").fetchall()
    assert shared is not None and res.rejected == len(rejects) >= 1
    assert any(u == f"rl:{item}" and r == "invalid_row" and "unreadable" in d for u, r, d in rejects)
    written = {r["id"] for r in _rows(res.folder, "rl")}
    assert item not in written


HOLD_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from warehouse.db import connect
    with connect(Path(sys.argv[1])) as con:
        con.execute("CREATE TABLE IF NOT EXISTS writer_marker AS SELECT 1 AS x")
        print("ready", flush=True)
        sys.stdin.readline()
""")


def test_inspect_subcommands_on_a_real_warehouse_while_a_writer_is_active(exported: Path) -> None:
    data_dir = exported.parents[1]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(data_dir / "warehouse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        res = runner.invoke(app, ["inspect", "--data-dir", str(data_dir), "-f", "json"])
        assert res.exit_code == 0, res.output
        counts = {r["name"]: r["rows"] for r in json.loads(res.stdout)}
        assert counts["exports"] >= 1 and counts["export_rows"] >= 2
        res = runner.invoke(app, ["inspect", "funnel", "--data-dir", str(data_dir), "-f", "csv"])
        assert res.exit_code == 0 and "export,rl/train" in res.stdout and "solved_one_text_search" in res.stdout
        res = runner.invoke(app, ["inspect", "rejects", "--stage", "filter", "--data-dir", str(data_dir), "-f", "json"])
        rejected = json.loads(res.stdout)
        assert rejected and all(r["stage"] == "filter" and r["reason"].startswith("dropped:") for r in rejected)
        sft_item = pq.read_table(next((exported / "sft").glob("*.parquet"))).column("item_id")[0].as_py()
        res = runner.invoke(app, ["inspect", "item", sft_item, "--data-dir", str(data_dir), "-f", "json"])
        doc = json.loads(res.stdout)
        assert {"pool item", "path", "aliases", "rewrite steps", "gates", "shortcut filter", "trajectories",
                "exports"} <= set(doc)
        res = runner.invoke(app, ["inspect", "item", "no-such-item", "--data-dir", str(data_dir)])
        assert res.exit_code == 1 and "no item" in res.output
        res = runner.invoke(app, ["sql", "SELECT config, count(*) AS n FROM export_rows GROUP BY 1 ORDER BY 1",
                                  "--data-dir", str(data_dir), "-f", "csv"])
        assert res.exit_code == 0 and res.stdout.splitlines()[0] == "config,n"
        res = runner.invoke(app, ["sql", "DELETE FROM exports", "--data-dir", str(data_dir)])
        assert res.exit_code == 1 and "read-only" in res.output.lower()
    finally:
        holder.communicate("\n", timeout=30)


def test_split_is_disjoint_in_entities_answers_and_prefixes(exported: Path) -> None:
    """Acceptance (#15): no RL answer or alias in an SFT question or final answer; no anchor, answer entity or
    two-edge prefix on both sides. The card's split section shows the counts per rule."""
    assert_split_disjoint(exported)
    card = (exported / "README.md").read_text()
    assert "## Decontamination against evaluation benchmarks" in card and "None configured" in card


def assert_split_disjoint(exported: Path) -> None:
    """The #15 split invariants on an export folder under ``<data dir>/export/`` (also used for the ZIM)."""
    from tasks.synthesize.split import as_split_item, conflicts
    from warehouse.splits import split_rows

    sft = [SftRow.model_validate(r) for r in _rows(exported, "sft")]
    rl = [RlRow.model_validate(r) for r in _rows(exported, "rl")]
    paths = {side: [[n.title for n in Provenance.model_validate_json(r.provenance).path] for r in rows]
             for side, rows in (("sft", sft), ("rl", rl))}
    for pick in (lambda p: p[0], lambda p: p[-1], lambda p: tuple(p[:3]) if len(p) >= 3 else None):
        shared = {pick(p) for p in paths["sft"]} & {pick(p) for p in paths["rl"]} - {None}
        assert not shared
    with connect(exported.parents[1] / "warehouse.duckdb", read_only=True) as con:
        items = {r[0]: as_split_item(r) for r in split_rows(con, sorted({r.item_id for r in sft} | {r.id for r in rl}))}
        finals = dict(con.execute("SELECT item_id, string_agg(final_answer, ' | ') FROM accepted_trajectories"
                                  " GROUP BY 1").fetchall())
        rules = con.execute("SELECT side, rule, count(*) FROM item_splits GROUP BY ALL").fetchall()
    assert conflicts([items[r.item_id] for r in sft], [items[r.id] for r in rl], finals) == []
    for r in rl:
        for ans in [r.answer, *r.answer_aliases]:
            assert all(ans.casefold() not in f"{items[s.item_id].question} {finals[s.item_id]}".casefold()
                       for s in sft)
    card = (exported / "README.md").read_text()
    assert "## SFT/RL split" in card and rules
    assert all(json.loads(r.provenance)["split_rule"] for r in [*sft, *rl])


def test_no_absolute_local_path_in_card_manifest_or_rows(exported: Path) -> None:
    data_dir = str(exported.parents[1].resolve())
    texts = [(exported / "README.md").read_text(), (exported / "manifest.json").read_text()]
    for config in ("sft", "rl"):
        for row in _rows(exported, config):
            texts.append(json.dumps({k: v for k, v in row.items() if k != "images"}, default=str))
            texts += [str(im.get("path")) for im in row["images"]]
    assert not [t for t in texts if data_dir in t or str(Path(data_dir).parent) in t]


def test_card_snippet_runs_from_the_repo_root(exported: Path) -> None:
    card = (exported / "README.md").read_text()
    code = card.split("Load it from the repository root", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code += "print(len(sft), {k: len(v) for k, v in rl.items()})\n"
    repo = Path(__file__).resolve().parents[2]
    env = {"SEARCHVL_DATA_DIR": str(exported.parents[1]), "PATH": "/usr/bin:/bin", "HF_DATASETS_OFFLINE": "1",
           "HF_HOME": str(exported.parents[1] / "hf")}
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    m = ExportManifest.model_validate_json((exported / "manifest.json").read_text())
    assert out.stdout.strip().endswith(f"{m.sft_rows} {m.rl_rows and {k: v for k, v in m.rl_rows.items() if v}}")


def test_search_backends_are_labelled_in_rows_and_card(exported: Path) -> None:
    from schemas.settings import Settings
    from tasks.synthesize.backends import search_backend_labels
    from warehouse.runs import record_stats

    data_dir = exported.parents[1]
    cfg = load_run_config(DEMO_CONFIG)
    labels = search_backend_labels(Settings(search_api_url="http://127.0.0.1:9/search", search_api_key="k3y"))
    assert labels == {"text_search": "remote Serper-style web search API at 127.0.0.1", "image_search": "local index"}
    with connect(data_dir / "warehouse.duckdb") as con:
        runs = [r[0] for r in con.execute("SELECT DISTINCT run_id FROM trajectories").fetchall()]
        for run in runs:
            record_stats(con, run, "search_backends", dict.fromkeys(labels.items(), 1))
        res = export_dataset(con, data_dir, cfg.export.model_copy(update={"name": "backends"}),
                             filter_hash(cfg.filter), "run-5", cfg.name, "2026-01-01",
                             synthesis_hash=synthesis_hash(cfg.synthesis))
        con.execute("DELETE FROM stage_stats WHERE stage = 'search_backends'")
    card = (res.folder / "README.md").read_text()
    assert "- `text_search`: remote Serper-style web search API at 127.0.0.1" in card
    assert "- `image_search`: local index" in card and "k3y" not in card
    assert all(json.loads(r["provenance"])["search_backends"] == labels for r in _rows(res.folder, "sft"))
