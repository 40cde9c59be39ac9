"""Cost growth in corpus size: ingest → sample → questions (offline) → index build at N pages, N = 10k, 100k.

Input: ``scripts/make_scale_corpus.py --pages N`` (real bundled pages re-titled, links rewired to the
Wikispeedia degree distribution, every row labelled ``synthwiki``) with the bundled media folder. Config:
``flows/configs/demo.yaml`` (offline rule-based questions) with that source and ``paths_per_seed: 1`` (the
paper's value; about one page in ten has a free image and so is a seed). Each N runs in its own process
(``--one N``), so peak RSS is that size's own; stages are the library calls the flows' steps make.

Per N and stage: wall seconds, peak RSS after the stage (the process and its finished ingest workers), and
at the end the warehouse file size. Fitted exponent of each stage's time in N between consecutive sizes:
``log(t2 / t1) / log(N2 / N1)`` — a measurement at two sizes, not a derived figure. Target: every exponent
≤ 1.15. JSON ratio = 1.15 / worst exponent (≥ 1 meets); there is no baseline program here, the reference
is linear growth with 15 % slack.

Usage: python -m benchmarks.scale [--sizes 10000 100000] [--stages ingest sample questions index]
(from the repo root; needs ../shared/data). ``--stages`` times a subset; ingest always runs (the later stages read
its warehouse) and is always reported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import emit, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "sample", "questions", "index")
TARGET = 1.15


def one(n: int, tmp: Path, stages: tuple[str, ...] = STAGES) -> dict[str, object]:
    """Generate the corpus and run every stage (of ``stages``, plus ingest) once at ``n`` pages; per-stage seconds
    and peak RSS."""
    from schemas.run_config import SourceConfig, load_run_config
    from schemas.settings import Settings
    from tasks.ingest.ingest import ingest_source
    from tasks.questions.stage import question_all, text_index
    from tasks.sample.stage import sample_all
    from tasks.tooling import load_indexes
    from warehouse.db import connect
    from warehouse.pages import refresh_degrees

    xml = tmp / f"pages-{n}.xml"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_scale_corpus.py"), "--pages", str(n),
                    "--out", str(xml)], check=True, stdout=subprocess.DEVNULL)
    base = load_run_config(ROOT / "flows" / "configs" / "demo.yaml")
    src = SourceConfig(kind="xml", path=xml, media_dir=ROOT / "corpus" / "enwiki-sample" / "media")
    cfg = base.model_copy(update={
        "ingest": base.ingest.model_copy(update={"sources": [src]}),
        "sampling": base.sampling.model_copy(update={"paths_per_seed": 1})})
    seconds: dict[str, float] = {}
    rss: dict[str, float] = {}
    data = tmp / f"d{n}"
    data.mkdir()

    def timed(stage: str, fn: object) -> object:
        t0 = time.perf_counter()
        out = fn()  # type: ignore[operator]
        seconds[stage] = round(time.perf_counter() - t0, 3)
        rss[stage] = peak_rss_mb()
        return out

    from tasks.questions.leakage import _nlp

    _nlp()          # spaCy (and torch under it) is imported on first use: a fixed cost, kept out of the timed stage
    with connect(data / "warehouse.duckdb") as con:
        timed("ingest", lambda: (ingest_source(con, data, src, cfg.ingest, "scale", workers=2), refresh_degrees(con)))
        if "sample" in stages:
            timed("sample", lambda: sample_all(con, cfg.sampling, "scale"))
        if "questions" in stages:
            timed("questions", lambda: question_all(con, cfg.questions, "scale", data, Settings(), text_index,
                                                    ingest_cfg=cfg.ingest))
        if "index" in stages:
            timed("index", lambda: load_indexes(con, data))
        counts = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])  # noqa: S608 - fixed names
                  for t in ("pages", "links", "paths", "question_items")}
    return {"n": n, "seconds": seconds, "rss_mib": rss, "xml_mb": round(xml.stat().st_size / 1e6, 1),
            "warehouse_mb": round((data / "warehouse.duckdb").stat().st_size / 1e6, 1), "rows": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                    help="the stages to time (ingest always runs and is reported)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    stages = tuple(s for s in STAGES if s in args.stages or s == "ingest")
    if args.one is not None:
        with tempfile.TemporaryDirectory() as tmp:
            sys.stdout.write(json.dumps(one(args.one, Path(tmp), stages)) + "\n")
        return
    results = []
    for n in args.sizes:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--one", str(n), "--stages", *stages],
                              cwd=ROOT, check=True, capture_output=True, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        print(f"N={n:>9,}: {r['xml_mb']} MB XML, warehouse {r['warehouse_mb']} MB, rows {r['rows']}")
        for s in stages:
            print(f"  {s:<10} {r['seconds'][s]:>9.2f} s   peak RSS {r['rss_mib'][s]:>8.1f} MiB")
    exps: dict[str, float] = {}
    for a, b in itertools.pairwise(results):
        for s in stages:
            e = math.log(b["seconds"][s] / a["seconds"][s]) / math.log(b["n"] / a["n"])
            exps[s] = max(exps.get(s, -math.inf), e)
            print(f"exponent {s:<10} N {a['n']:,} → {b['n']:,}: {e:.2f}")
    worst = max(exps.values()) if exps else float("nan")
    emit("scale_time_exponent", "1.15 / worst exponent of stage time in N", TARGET / worst, 1.0, 1.0,
         exponents={k: round(v, 3) for k, v in exps.items()}, worst_exponent=round(worst, 3), runs=results)


if __name__ == "__main__":
    main()
