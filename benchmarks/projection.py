"""Full-scale projection: measure per-stage cost on small real corpora, project to the paper's scale.

Measured (in this run, offline defaults, one process, no Prefect): every stage of the main job, timed
separately, on the bundled corpus (``flows/configs/demo.yaml``) and, when ``../shared/data`` is present, on
the Ray Charles ZIM (85 real articles with images) and the 206-page enwiki XML sample (ingest rate only).
Per unit of work: seconds per page (ingest), per seed (sampling), per path (questions), per pool item
(filter), per kept item (synthesis, K rollouts), per exported row; the funnel yields between stages; tool
calls per kept item and their local latency; transcript sizes (approximate tokens) of the trajectories,
which is what an online teacher would read and write.

Projected (the paper's scale, PAPER.md §6.5–6.6): 36,592 accepted SFT trajectories at 6.3 tool calls and
8,000 RL items from full English Wikipedia. Units needed are derived backwards through the measured
yields (the teacher attempts the items the SFT target needs; the 8K RL items are held out of the kept pool
before synthesis, as the pipeline does, and measured here with no hold-out so every kept item times the
teacher); hours = units × measured seconds per unit, on one machine and on N sharded workers. Only the
stages that run inside the shards scale with N (``SCALES_WITH_N``: path sampling and questions in the
questions phase, filter and synthesis in the pool phase); ingest runs once and is shared, and the export runs
once on the merged warehouse (``flows/sharded.py``), so they are never divided.
A sharded stage's scaling is the one measured by
``benchmarks/sharding.py`` (JSON lines passed with ``--sharding-result``; see ``shard_efficiency``), else
perfect scaling, which the output says.
Online costs use the measured transcript shapes with the paper's K=5 rollouts and the prices
and latencies given as options (assumptions, printed).

JSON line: paper-scale datasets per day, ours on N sharded workers (``--workers``) vs the baseline of the same
work on one machine; ratio = speedup (target ≥ 0.5 × N).
Usage: python -m benchmarks.projection [--workers 16] [--teacher-in 5 --teacher-out 25 ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import SHARED, emit
from schemas.run_config import RunConfig, SamplingConfig, SourceConfig, load_run_config
from schemas.settings import Settings
from tasks.export.stage import export_dataset
from tasks.filter.stage import filter_hash, filter_pool
from tasks.ingest.ingest import ingest_source
from tasks.pool.stage import build_pool, enhance_pool
from tasks.questions.stage import question_all, text_index
from tasks.sample.stage import sample_all
from tasks.synthesize.models import filter_models, synthesis_models
from tasks.synthesize.stage import synthesis_hash, synthesize_pool
from tasks.tooling import build_tool_env, load_indexes
from toolenv.protocol import approx_token_count
from warehouse.db import Connection, connect
from warehouse.pages import refresh_degrees
from warehouse.synthesis import kept_item_ids

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "flows" / "configs" / "demo.yaml"
ZIM = SHARED / "zim" / "wikipedia_en_ray_charles_2015-06.zim"
XML = SHARED / "wikitext" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

# Paper scale (PAPER.md §6.5-6.6) and full English Wikipedia (BENCHMARKS.md, ingest projection).
SFT_TARGET, RL_TARGET, PAPER_TOOL_CALLS = 36_592, 8_000, 6.3
ENWIKI_ARTICLES, ENWIKI_WIKITEXT_MB = 7_000_000, 100_000
SCALES_WITH_N = {"sample": "sample+questions", "questions": "sample+questions", "filter": "pool+filter",
                 "synthesis": "enhance+synthesize"}
"""Stages a shard runs (``flows/sharded.py::shard_run``), each with the phase of ``benchmarks/sharding.py`` that
measures its scaling: the questions phase, and the pool phase (pool → filter → enhance → synthesize)."""
IMAGE_TOKENS = 768          # assumption: one image at the SFT recipe's 262,144 max pixels, Qwen-VL patching


@dataclass
class Measured:
    corpus: str
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)


def _time(m: Measured, stage: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    m.seconds[stage] = m.seconds.get(stage, 0.0) + time.perf_counter() - t0
    return out


def _one(con: Connection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    return float(row[0] or 0) if row else 0.0


def run_corpus(name: str, cfg: RunConfig, data_dir: Path) -> Measured:
    """Every stage of the main job on one corpus, timed; counts read back from the warehouse."""
    m = Measured(name)
    with connect(data_dir / "warehouse.duckdb") as con:
        for src in cfg.ingest.sources:
            _time(m, "ingest", lambda src=src: ingest_source(con, data_dir, src, cfg.ingest, "proj", workers=2))
        _time(m, "ingest", lambda: refresh_degrees(con))
        _time(m, "sample", lambda: sample_all(con, cfg.sampling, "proj"))
        _time(m, "questions", lambda: question_all(con, cfg.questions, "proj", data_dir, Settings(), text_index))
        _time(m, "pool", lambda: build_pool(con, cfg.pool, "proj", data_dir))
        fm = filter_models(con, Settings(), cfg.teacher, cfg.filter, None, "proj")
        env = _time(m, "indexes", lambda: build_tool_env(con, data_dir))
        _time(m, "filter", lambda: filter_pool(con, cfg.filter, "proj", data_dir, env, fm.make_solver, fm.judge))
        fhash = filter_hash(cfg.filter)
        _time(m, "enhance", lambda: enhance_pool(con, cfg.pool, "proj", kept_item_ids(con, fhash), data_dir))
        # no RL hold-out while measuring: every kept item measures the teacher (the projection adds the
        # 8K RL items back as a separate draw from the kept pool)
        scfg = cfg.synthesis.model_copy(update={"rl_holdout": 0.0})
        models = synthesis_models(con, Settings(), cfg.teacher, scfg, "proj")
        indexes = load_indexes(con, data_dir)
        _time(m, "synthesis", lambda: synthesize_pool(con, scfg, "proj", data_dir, fhash,
                                                      lambda: build_tool_env(con, data_dir, indexes=indexes), models))
        res = _time(m, "export", lambda: export_dataset(con, data_dir, cfg.export, fhash, "proj", name,
                                                        scfg.date, synthesis_hash=synthesis_hash(scfg)))
        c = m.counts
        c["pages"] = _one(con, "SELECT count(*) FROM pages WHERE redirect_target IS NULL AND namespace = 0")
        c["wikitext_mb"] = _one(con, "SELECT sum(length(coalesce(lead_text, ''))) / 1e6 FROM pages")
        c["seeds"] = _one(con, "SELECT count(DISTINCT seed_title) FROM paths") + _one(
            con, "SELECT count(*) FROM rejects WHERE stage = 'sample_paths'")
        c["paths"] = _one(con, "SELECT count(*) FROM paths")
        c["vqa_items"] = _one(con, "SELECT count(*) FROM question_items WHERE status = 'accepted'")
        c["pool_items"] = _one(con, "SELECT count(*) FROM pool_items")
        c["kept"] = _one(con, "SELECT count(*) FROM filter_outcomes WHERE status = 'kept'")
        c["items_with_accepted"] = _one(con, "SELECT count(*) FROM synthesis_items WHERE accepted > 0")
        c["accepted"] = _one(con, "SELECT count(*) FROM trajectories WHERE status = 'accepted'")
        c["rollouts"] = _one(con, "SELECT count(*) FROM trajectories")
        c["turns_per_rollout"] = _one(con, "SELECT avg(n_turns) FROM trajectories")
        c["tool_calls_per_rollout"] = _one(con, "SELECT avg(tool_calls) FROM trajectories")
        c["filter_tool_calls_per_item"] = _one(
            con, "SELECT count(*) FILTER (WHERE coalesce(tool_call, '') <> '') / greatest(count(DISTINCT item_id), 1)"
                 " FROM difficulty_verdicts")
        c["text_search_ms"] = _one(con, "SELECT median(latency_ms) FROM tool_calls WHERE tool = 'text_search'")
        c["image_search_ms"] = _one(con, "SELECT median(latency_ms) FROM tool_calls WHERE tool = 'image_search'")
        c["rewrite_candidates_per_path"] = _one(
            con, "SELECT sum(len(candidates)) / greatest(count(DISTINCT item_id), 1) FROM rewrite_steps")
        c["entities_per_path"] = _one(con, "SELECT count(*) / greatest(count(DISTINCT item_id), 1) FROM rewrite_steps")
        c["exported_rows"] = res.sft_rows + sum(res.rl_rows.values())
        prompt, completion, images, calls = _transcript_tokens(con)
        c["prompt_tokens_per_rollout"] = prompt
        c["completion_tokens_per_rollout"] = completion
        c["images_per_rollout"] = images
        c["model_calls_per_rollout"] = calls
    return m


def _transcript_tokens(con: Connection) -> tuple[float, float, float, float]:
    """Per rollout, what an online teacher would be sent and would write: each assistant turn is one call
    whose prompt is every earlier message (text tokens approximated, each image ``IMAGE_TOKENS``)."""
    rows = con.execute("SELECT trajectory_id, role, content, len(image_sha256s) FROM trajectory_turns"
                       " ORDER BY trajectory_id, idx").fetchall()
    per: dict[str, list[float]] = {}
    context: dict[str, float] = {}
    for tid, role, content, n_img in rows:
        acc = per.setdefault(tid, [0.0, 0.0, 0.0, 0.0])
        toks = approx_token_count(content) + IMAGE_TOKENS * n_img
        acc[2] += n_img
        if role == "assistant":
            acc[0] += context.get(tid, 0.0)
            acc[1] += toks
            acc[3] += 1
        context[tid] = context.get(tid, 0.0) + toks
    if not per:
        return 0.0, 0.0, 0.0, 0.0
    n = len(per)
    return tuple(sum(v[i] for v in per.values()) / n for i in range(4))  # type: ignore[return-value]


def ingest_rate(data_dir: Path) -> float:
    """Wikitext MB/s of ingest on the 206-page enwiki sample (long, template-heavy articles)."""
    src = SourceConfig(kind="xml", path=XML)
    from schemas.run_config import IngestConfig

    with connect(data_dir / "w.duckdb") as con:
        t0 = time.perf_counter()
        ingest_source(con, data_dir, src, IngestConfig(sources=[src]), "rate", workers=2)
        secs = time.perf_counter() - t0
    import bz2

    with bz2.open(XML, "rb") as f:
        mb = len(f.read()) / 1e6
    return mb / secs


def zim_config() -> RunConfig:
    base = load_run_config(DEMO)
    return base.model_copy(update={
        "name": "zim",
        "ingest": base.ingest.model_copy(update={"sources": [SourceConfig(kind="zim", path=ZIM)]}),
        "sampling": SamplingConfig(seed_min_in_degree=0, seed_min_image_side=100, hub_in_degree=60, max_retries=30,
                                   paths_per_seed=3, answer_max_tokens=6)})


PER_ROLLOUT = ("turns_per_rollout", "tool_calls_per_rollout", "prompt_tokens_per_rollout",
               "completion_tokens_per_rollout", "images_per_rollout", "model_calls_per_rollout")
PER_PATH = ("rewrite_candidates_per_path", "entities_per_path")


def combine(ms: list[Measured]) -> Measured:
    """All corpora as one sample: counts and seconds add up, per-rollout / per-path figures are weighted."""
    out = Measured("+".join(m.corpus for m in ms))
    for m in ms:
        for k, v in m.seconds.items():
            out.seconds[k] = out.seconds.get(k, 0.0) + v
        for k, v in m.counts.items():
            weight = m.counts["rollouts"] if k in PER_ROLLOUT else m.counts["paths"] if k in PER_PATH else None
            if k.endswith("_ms") or k == "filter_tool_calls_per_item":
                weight = 1.0 / len(ms)
            out.counts[k] = out.counts.get(k, 0.0) + (v * weight if weight is not None else v)
    for k in PER_ROLLOUT:
        out.counts[k] /= max(out.counts["rollouts"], 1)
    for k in PER_PATH:
        out.counts[k] /= max(out.counts["paths"], 1)
    return out


def project(m: Measured, a: argparse.Namespace, sft_share: float | None = None,
            traj_per_success: float | None = None) -> dict[str, Any]:
    """Units, hours and online cost at the paper's scale from one corpus's measurements. ``sft_share`` (kept
    items with an accepted trajectory) and ``traj_per_success`` default to the measured offline values."""
    c, s = m.counts, m.seconds
    per_kept_sft = (c["accepted"] / c["kept"]) if c["kept"] else 0.0
    if sft_share is None:
        sft_share = c["items_with_accepted"] / c["kept"] if c["kept"] else 0.0
    if traj_per_success is None:
        traj_per_success = c["accepted"] / max(c["items_with_accepted"], 1)
    sft_items = SFT_TARGET / traj_per_success if traj_per_success else float("inf")
    taught = sft_items / sft_share if sft_share else float("inf")   # items the teacher must attempt
    kept = taught + RL_TARGET                                          # + the RL hold-out, drawn before synthesis
    pool = kept / (c["kept"] / c["pool_items"])
    paths = pool / (c["vqa_items"] / c["paths"])
    seeds = paths / (c["paths"] / c["seeds"])
    units = {"ingest": ENWIKI_WIKITEXT_MB, "sample": seeds, "questions": paths, "filter": pool,
             "synthesis": taught, "export": SFT_TARGET + RL_TARGET}
    rate = {"ingest": 1 / a.ingest_mb_s, "sample": s["sample"] / c["seeds"], "questions": s["questions"] / c["paths"],
            "filter": s["filter"] / c["pool_items"], "synthesis": s["synthesis"] / c["kept"] * a.rollouts
            / max(c["rollouts"] / c["kept"], 1), "export": s["export"] / max(c["exported_rows"], 1)}
    hours = {k: units[k] * rate[k] / 3600 for k in units}
    # online: K rollouts per kept item, each with the measured calls and transcript sizes; judges per rollout
    rollouts = taught * a.rollouts
    teacher_calls = rollouts * c["model_calls_per_rollout"]
    t_in, t_out = rollouts * c["prompt_tokens_per_rollout"], rollouts * c["completion_tokens_per_rollout"]
    judge_calls = rollouts * 2 + pool * 3 * a.solver_calls_per_gate
    judge_in = judge_calls * a.judge_prompt_tokens
    question_calls = paths * (1 + c["entities_per_path"] + c["rewrite_candidates_per_path"] * 2 + 1)
    text_searches = rollouts * c["tool_calls_per_rollout"] * a.text_search_share + pool * 1
    image_searches = rollouts * (1 - a.text_search_share) * c["tool_calls_per_rollout"] * 0.5 + pool * 1
    cost = {"teacher": t_in / 1e6 * a.teacher_in + t_out / 1e6 * a.teacher_out,
            "judges_solver": judge_in / 1e6 * a.judge_in + judge_calls * 50 / 1e6 * a.judge_out,
            "questions": question_calls * a.question_tokens / 1e6 * a.judge_in,
            "text_search_api": text_searches / 1000 * a.text_search_per_1k,
            "image_search_api": image_searches / 1000 * a.image_search_per_1k}
    teacher_hours = teacher_calls * a.turn_latency_s / a.concurrency / 3600
    return {"units": units, "s_per_unit": rate, "hours": hours, "teacher_calls": teacher_calls,
            "teacher_tokens_in": t_in, "teacher_tokens_out": t_out, "judge_calls": judge_calls,
            "question_calls": question_calls, "text_searches": text_searches, "image_searches": image_searches,
            "cost_usd": cost, "teacher_wall_hours": teacher_hours, "kept_needed": kept, "per_kept_sft": per_kept_sft}


def shard_efficiency(paths: list[Path]) -> dict[str, float]:
    """Per shard phase, the measured efficiency of its work on N shards: one-worker stage seconds ÷ (N × the
    slower shard's own flow seconds), from the ``benchmarks/sharding.py`` run in which that stage did the most
    work (the least dominated by per-process warm-up). Process start-up per phase is a fixed cost, printed
    and left out (seconds against hours at this scale). Without measurements: 1.0, said so."""
    best: dict[str, tuple[float, float]] = {}
    for path in paths:
        res = json.loads(path.read_text().strip().splitlines()[-1])
        for phase, own in res["shard_own_s"].items():
            one = res["one_worker_s"][phase]
            eff = min(1.0, one / (res["shards"] * max(own))) if max(own) > 0 else 1.0
            if one > best.get(phase, (-1.0, 0.0))[0]:
                best[phase] = (one, eff)
            start_up = res["sharded_s"][phase] - max(own)
            print(f"{path.name} ({res.get('config', '?')}): {phase}: 1 worker {one:.2f} s, shards' own "
                  f"{own} s -> efficiency {eff:.2f}; start-up + seeding {start_up:.1f} s per phase")
    out = {phase: best.get(phase, (0.0, 1.0))[1] for phase in set(SCALES_WITH_N.values())}
    print(f"sharded-stage efficiency used: {out}" + ("" if paths else " (assumed: no --sharding-result given)"))
    return out


def sharded_hours(stage: str, one_machine: float, a: argparse.Namespace) -> float:
    """Hours of ``stage`` on ``a.workers`` shards: divided (at the measured efficiency) only when it runs in the
    shards; ingest (shared, once) and everything after the merge keep their one-machine hours."""
    if stage not in SCALES_WITH_N:
        return one_machine
    return one_machine / (int(a.workers) * float(a.shard_efficiency[SCALES_WITH_N[stage]]))


def show(title: str, p: dict[str, Any], a: argparse.Namespace) -> None:
    print(f"\nprojection to {SFT_TARGET:,} SFT trajectories + {RL_TARGET:,} RL items — {title}:")
    print(f"{'stage':<13} {'units':>11} {'s/unit':>8} {'h, 1 machine':>13} {'h, ' + str(a.workers) + ' workers':>14}")
    for k, u in p["units"].items():
        one = p["hours"][k]
        print(f"{k:<13} {u:>11,.0f} {p['s_per_unit'][k]:>8.4f} {one:>13.1f} {sharded_hours(k, one, a):>14.2f}"
              f"  {'scales with N' if k in SCALES_WITH_N else 'once (not sharded)'}")
    one_total = sum(p["hours"].values())
    n_total = sum(sharded_hours(k, v, a) for k, v in p["hours"].items())
    print(f"{'offline total':<13} {'':>11} {'':>8} {one_total:>13.1f} {n_total:>14.2f}")
    print(f"online (K={a.rollouts}): teacher {p['teacher_calls']:,.0f} calls, "
          f"{p['teacher_tokens_in'] / 1e9:.2f} G in / "
          f"{p['teacher_tokens_out'] / 1e6:.0f} M out tokens, ≈ {p['teacher_wall_hours']:,.0f} h wall at "
          f"{a.concurrency} in flight × {a.turn_latency_s:.0f} s/turn ({p['teacher_wall_hours'] / a.workers:,.0f} h "
          f"with one endpoint per worker); judges+solver {p['judge_calls']:,.0f} calls; question stage "
          f"{p['question_calls']:,.0f} calls; {p['text_searches']:,.0f} text + {p['image_searches']:,.0f} image "
          "searches")
    print("cost: " + ", ".join(f"{k} ${v:,.0f}" for k, v in p["cost_usd"].items())
          + f"; total ${sum(p['cost_usd'].values()):,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=16, help="sharded workers (one machine each)")
    ap.add_argument("--rollouts", type=int, default=5, help="K rollouts per item (paper)")
    ap.add_argument("--keep-per-item", type=int, default=2, help="[S] accepted trajectories kept per item")
    ap.add_argument("--teacher-in", type=float, default=5.0, help="teacher $ per M input tokens (assumption)")
    ap.add_argument("--teacher-out", type=float, default=25.0, help="teacher $ per M output tokens (assumption)")
    ap.add_argument("--judge-in", type=float, default=2.5, help="judge/solver $ per M input tokens (GPT-4o class)")
    ap.add_argument("--judge-out", type=float, default=10.0, help="judge/solver $ per M output tokens")
    ap.add_argument("--judge-prompt-tokens", type=int, default=1500, help="tokens per judge/solver call")
    ap.add_argument("--question-tokens", type=int, default=800, help="tokens per question-stage call")
    ap.add_argument("--solver-calls-per-gate", type=float, default=1.5, help="filter calls per gate (tool + answer)")
    ap.add_argument("--text-search-per-1k", type=float, default=1.0, help="SERP API $ per 1k queries (assumption)")
    ap.add_argument("--image-search-per-1k", type=float, default=5.0, help="Lens-like API $ per 1k (assumption)")
    ap.add_argument("--text-search-share", type=float, default=0.6, help="share of tool calls that are text_search")
    ap.add_argument("--turn-latency-s", type=float, default=10.0, help="teacher seconds per assistant turn")
    ap.add_argument("--concurrency", type=int, default=64, help="teacher calls in flight (TeacherClient)")
    ap.add_argument("--online-sft-share", type=float, default=0.5,
                    help="scenario: share of kept items whose K rollouts give an accepted trajectory (assumption)")
    ap.add_argument("--ingest-mb-s", type=float, default=0.0, help="ingest MB/s (default: measured here)")
    ap.add_argument("--sharding-result", type=Path, nargs="*", default=[],
                    help="files whose last line is benchmarks/sharding.py's JSON: measured scaling of sharded stages")
    a = ap.parse_args()
    a.shard_efficiency = shard_efficiency(a.sharding_result)
    corpora = [("bundled", load_run_config(DEMO))] + ([("ray-charles-zim", zim_config())] if ZIM.exists() else [])
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        if not a.ingest_mb_s:
            a.ingest_mb_s = ingest_rate(Path(tmp)) if XML.exists() else 1.7
        for name, cfg in corpora:
            (Path(tmp) / name).mkdir()
            measured.append(run_corpus(name, cfg, Path(tmp) / name))
    print(f"ingest: {a.ingest_mb_s:.2f} MB/s of wikitext on the enwiki XML sample (2 worker processes)")
    print("\nmeasured (offline defaults, this machine):")
    for m in measured:
        secs = ", ".join(f"{k} {v:.2f}s" for k, v in m.seconds.items())
        cnts = ", ".join(f"{k} {v:.4g}" for k, v in m.counts.items())
        print(f"- {m.corpus}: {secs}\n  {cnts}")
    best = combine(measured) if len(measured) > 1 else measured[0]
    p = project(best, a)
    show(f"measured offline yields ({best.corpus}: {best.counts['items_with_accepted']:.0f} of "
         f"{best.counts['kept']:.0f} kept items got an accepted path-guided trajectory)", p, a)
    scenario = project(best, a, a.online_sft_share, float(a.keep_per_item))
    show(f"online-teacher scenario: {a.online_sft_share:.0%} of kept items yield {a.keep_per_item} accepted "
         f"trajectories (of K={a.rollouts}); other yields measured", scenario, a)
    one_total = sum(p["hours"].values())
    n_total = sum(sharded_hours(k, v, a) for k, v in p["hours"].items())
    emit("full_scale_projection", "paper-scale datasets per day (offline pipeline)", 24 / n_total, 24 / one_total,
         a.workers * 0.5, hours_one_machine=round(one_total, 1), hours_n_workers=round(n_total, 1), workers=a.workers,
         teacher_calls=round(p["teacher_calls"]), teacher_wall_hours=round(p["teacher_wall_hours"], 1),
         cost_usd=round(sum(p["cost_usd"].values())), kept_items_needed=round(p["kept_needed"]),
         yields_from=best.corpus, scales_with_n=sorted(SCALES_WITH_N), shard_efficiency=a.shard_efficiency)


if __name__ == "__main__":
    main()
