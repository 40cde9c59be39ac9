"""The ``searchvl`` command (also ``python -m flows``): run flows locally, inspect the warehouse.

Flows run in Prefect's ephemeral mode unless ``PREFECT_API_URL`` points at a server. Domain errors
print one line (config errors one line per bad field) and exit 1; no traceback walls.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.errors import ConfigError, PipelineError
from schemas.run_config import RunConfig, format_validation_error, load_run_config
from schemas.settings import Settings, apply_prefect_defaults
from tasks.inspect import queries
from tasks.runs import summary
from tasks.runs.preflight import check_run
from tasks.runs.record import new_run_id, writer

app = typer.Typer(help="searchvl: multimodal deep-search training data from Wikipedia.",
                  no_args_is_help=True, add_completion=False)
inspect_app = typer.Typer(help="Look inside the warehouse (read-only; safe while a run writes).",
                          invoke_without_command=True)
app.add_typer(inspect_app, name="inspect")
out = Console()
err = Console(stderr=True)
T = TypeVar("T")

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="run config YAML (flows/configs/*.yaml)")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="data directory (default ./var)")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="ingest processes (default: CPUs)")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table | csv | json")]


def _settings(data_dir: Path | None) -> Settings:
    try:
        s = Settings()
    except ValidationError as e:
        raise ConfigError(f"invalid SEARCHVL_* environment:\n{format_validation_error(e)}") from e
    return s.model_copy(update={"data_dir": data_dir}) if data_dir else s


def _error_names(cls: type[BaseException] = PipelineError) -> set[str]:
    return {cls.__name__}.union(*(_error_names(sub) for sub in cls.__subclasses__()))


class _NoPipelineTracebacks(logging.Filter):
    """Prefect's run loggers report a failed task, then each enclosing flow, with tracebacks (six copies of one
    error in a `run`). For our own ``PipelineError``s the CLI prints the one-line message once, so these
    records are dropped from the command's output (``SEARCHVL_DEBUG=1`` keeps them); the flow run's state
    in the Prefect UI still carries the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, PipelineError):
            return False
        if exc is None:
            msg = record.getMessage()
            if ("Failed(" in msg or "exception" in msg) and any(f"{n}:" in msg or f"{n}(" in msg
                                                                 for n in _error_names()):
                return False
        return True


def _quiet_prefect_tracebacks() -> None:
    try:
        if Settings().debug:
            return
    except ValidationError:
        pass                                   # the command body reports the bad setting
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect.engine", "prefect.flow_engine",
                 "prefect.task_engine"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _NoPipelineTracebacks) for f in lg.filters):
            lg.addFilter(_NoPipelineTracebacks())


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; pipeline errors become one red message and exit code 1."""
    _quiet_prefect_tracebacks()
    try:
        return fn()
    except PipelineError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(1) from None
    except Exception as e:
        if Settings().debug:
            raise
        logging.getLogger("searchvl").debug("unexpected error", exc_info=True)
        err.print(f"[bold red]internal error:[/] {type(e).__name__}: {e} (set SEARCHVL_DEBUG=1 for the traceback)",
                  highlight=False, markup=True)
        raise typer.Exit(2) from None


def _workers(settings: Settings, config: RunConfig, workers: int | None) -> int:
    import os

    return workers or config.ingest.workers or settings.workers or (os.cpu_count() or 1)


@app.callback()
def _defaults() -> None:
    """searchvl: multimodal deep-search training data from Wikipedia."""
    apply_prefect_defaults()          # before any command imports Prefect: telemetry off unless the user set it


def _prepare(config: Path, data_dir: Path | None, *, ingests: bool = False) -> tuple[Settings, RunConfig]:
    """Settings and the validated config, after the checks a run needs (inputs readable, the dumps too when the
    command ingests, data dir writable), so a missing dump fails here, once, before Prefect starts."""
    settings = _settings(data_dir)
    cfg = load_run_config(config)
    check_run(cfg, settings.data_dir, sources=ingests)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings, cfg


def _print(cols: list[str], rows: list[tuple[Any, ...]], fmt: str, title: str | None = None) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=2))
        sys.stdout.write("\n")
    elif fmt == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(cols)
        w.writerows(rows)
    else:
        t = Table(title=title)
        for c in cols:
            t.add_column(c, overflow="fold")
        for r in rows:
            t.add_row(*("" if v is None else str(v) for v in r))
        out.print(t)


LimitOpt = Annotated[int | None, typer.Option(
    "--limit", "-n", min=1, help="preview: at most N seeds, question items and rows per shard config")]


@app.command()
def run(config: ConfigOpt, data_dir: DataDirOpt = None, workers: WorkersOpt = None, limit: LimitOpt = None,
        shard: Annotated[str | None, typer.Option(
            "--shard", help="i/N: only the seeds of shard i of N (by seed hash), ingest → questions; "
                            "finish with `searchvl merge`")] = None) -> None:
    """Run the main job: ingest → paths → questions → pool/filter/synthesis → export (shards + card)."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir, ingests=True)
        from flows.run import run as run_flow
        if shard is not None:
            cfg = cfg.with_shard(shard)
            if limit:
                cfg.preview(limit).with_shard(shard)      # fail before Prefect starts: --limit caps all seeds
        run_id = new_run_id("run")
        with writer(settings.data_dir):        # a second run on this data dir fails here, before Prefect
            before = summary.fingerprint(settings.warehouse_path)
            run_flow(cfg, settings.data_dir, _workers(settings, cfg, workers), run_id, limit)
            changes = summary.compare(before, summary.fingerprint(settings.warehouse_path))
        _print(summary.COLUMNS, [c.row() for c in changes], "table", title=f"run {run_id}, stage by stage")
        out.print(summary.headline(changes), highlight=False)
        _print_export(settings.data_dir)
    _guard(body)


def _print_export(data_dir: Path) -> None:
    latest = queries.latest_export(data_dir / "warehouse.duckdb")
    if latest:
        out.print(f"export [bold]{escape(latest[0])}[/]: {escape(latest[1])} (load with "
                  f"datasets.load_dataset(\"{escape(latest[1])}\", \"sft\" | \"rl\"))", highlight=False)


@app.command()
def export(config: ConfigOpt, data_dir: DataDirOpt = None, limit: LimitOpt = None) -> None:
    """Write SFT and RL parquet shards and the dataset card from the warehouse (unchanged exports are kept)."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir)
        from flows.export import export as export_flow
        counts = export_flow(cfg, settings.data_dir, limit=limit)
        _print(["outcome", "count"], sorted(counts.items()), "table")
        _print_export(settings.data_dir)
    _guard(body)


@app.command()
def ingest(config: ConfigOpt, data_dir: DataDirOpt = None, workers: WorkersOpt = None) -> None:
    """Ingest the config's sources (XML dumps, ZIM files, live API) into the warehouse."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir, ingests=True)
        from flows.ingest import ingest as ingest_flow
        pages = ingest_flow(cfg, settings.data_dir, _workers(settings, cfg, workers))
        out.print(f"ingested {pages} pages into {settings.warehouse_path}")
    _guard(body)


@app.command("sample-paths")
def sample_paths(config: ConfigOpt, data_dir: DataDirOpt = None) -> None:
    """Sample anchor → bridges → answer paths from the ingested link graph."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir)
        from flows.sample_paths import sample_paths as sample_flow
        counts = sample_flow(cfg, settings.data_dir)
        _print(["outcome", "count"], sorted(counts.items()), "table")
    _guard(body)


@app.command()
def questions(config: ConfigOpt, data_dir: DataDirOpt = None) -> None:
    """Write grounded, gated questions for the sampled paths not yet done (resumable)."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir)
        from flows.questions import questions as questions_flow
        counts = questions_flow(cfg, settings.data_dir)
        _print(["outcome", "count"], sorted(counts.items()), "table")
    _guard(body)


@app.command()
def synthesize(config: ConfigOpt, data_dir: DataDirOpt = None) -> None:
    """Pool the VQA items, drop shortcut items, degrade the enhancement subset and synthesize judged
    trajectories for items not yet done (resumable; a rerun re-sends no completed model call)."""
    def body() -> None:
        settings, cfg = _prepare(config, data_dir)
        from flows.synthesis import synthesis as synthesis_flow
        counts = synthesis_flow(cfg, settings.data_dir)
        _print(["outcome", "count"], sorted(counts.items()), "table")
    _guard(body)


ToolArgsOpt = Annotated[str, typer.Option("--args", "-a", help='tool arguments, a JSON object: {"q": "Ayn Rand"}; '
                                          "a single image argument defaults to img_1")]
ImagesOpt = Annotated[list[Path] | None, typer.Option("--image", "-i", help="input image file; repeat for more "
                                                      "(they become img_1, img_2, …)")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="folder for the images the tool produces")]


@app.command()
def tool(name: Annotated[str, typer.Argument(help="text_search, image_search, layout_parsing, crop, sharpen, "
                                                  "super_resolution or perspective_correct")],
         image: ImagesOpt = None, args: ToolArgsOpt = "{}", data_dir: DataDirOpt = None,
         out_dir: OutOpt = Path("tool-out")) -> None:
    """Run one tool by hand against the warehouse's search indexes and print its observation.

    Successful search and OCR results go through the warehouse tool-call cache (tool_calls).
    SEARCHVL_SEARCH_API_URL / SEARCHVL_IMAGE_SEARCH_URL switch the search tools to remote APIs.
    """
    def body() -> int:
        from tasks.tooling import run_tool_once

        settings = _settings(data_dir)
        res = run_tool_once(settings.data_dir, name, image or [], args, settings=settings)
        if not res.ok:
            err.print(f"[bold red]error:[/] {escape(res.text)}", highlight=False, markup=True, soft_wrap=True)
            return 1
        sys.stdout.write(res.text.rstrip("\n") + "\n")
        if res.images:
            out_dir.mkdir(parents=True, exist_ok=True)
        for im in res.images:
            dest = out_dir / f"{im.image_id}.png"
            dest.write_bytes(im.png)
            sys.stdout.write(f"wrote {dest} ({im.width}×{im.height})\n")
        source = "cache hit (warehouse tool_calls)" if res.cached else "ran"
        note = "" if res.cache_writable else "; warehouse busy, cache read-only"
        sys.stdout.write(f"[{res.tool}: {source}, {res.elapsed_ms:.1f} ms{note}]\n")
        return 0
    if _guard(body):
        raise typer.Exit(1)


@app.command("validate-config")
def validate_config(config: ConfigOpt, data_dir: DataDirOpt = None) -> None:
    """Check a run config (fields, every input file exists and is readable, the data dir is writable) and
    print it normalised."""
    def body() -> RunConfig:
        settings = _settings(data_dir)
        cfg = load_run_config(config)
        check_run(cfg, settings.data_dir)
        return cfg
    out.print_json(_guard(body).as_json())


@inspect_app.callback()
def inspect_tables(ctx: typer.Context, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """List tables and views with row counts (subcommands: query, queries)."""
    if ctx.invoked_subcommand is None:
        settings = _guard(lambda: _settings(data_dir))
        cols, rows = _guard(lambda: queries.tables(settings.warehouse_path))
        _print(cols, rows, fmt, title=str(settings.warehouse_path))


@inspect_app.command("queries")
def list_queries() -> None:
    """Names of the named queries in warehouse/sql/queries/."""
    for name in queries.query_names():
        out.print(name)


@inspect_app.command("query")
def named_query(name: str, data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
                param: Annotated[list[str] | None, typer.Option("--param", "-p",
                                                                 help="key=value bound as $key")] = None,
                ) -> None:
    """Run a named query, e.g. `searchvl inspect query seed_rejects_by_reason`."""
    params = dict(p.split("=", 1) for p in (param or []) if "=" in p) or None
    settings = _guard(lambda: _settings(data_dir))
    cols, rows = _guard(lambda: queries.named(settings.warehouse_path, name, params))
    _print(cols, rows, fmt, title=name)


@inspect_app.command("funnel")
def inspect_funnel(data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """What every stage kept and dropped, by reason (named query `funnel`)."""
    settings = _guard(lambda: _settings(data_dir))
    cols, rows = _guard(lambda: queries.named(settings.warehouse_path, "funnel"))
    _print(cols, rows, fmt, title="funnel")


@inspect_app.command("rejects")
def inspect_rejects(stage: Annotated[str | None, typer.Option("--stage", "-s", help="ingest, sample_paths, questions, "
                                                              "pool, filter, synthesis, export")] = None,
                    data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Every dropped unit with its reason (named query `rejects`), optionally of one stage."""
    settings = _guard(lambda: _settings(data_dir))
    cols, rows = _guard(lambda: queries.named(settings.warehouse_path, "rejects", {"stage": stage}))
    title = f"rejects{' of ' + stage if stage else ''}"
    if fmt != "table":
        _print(cols, rows, fmt, title=title)
        return
    def tail(unit: str, width: int = 24) -> str:          # a unit id's informative end (…:hash:Seed title)
        return unit if len(unit) <= width else "…" + unit[-(width - 1):]

    _print_narrow(["stage", "unit_id", "reason", "detail"], [(r[0], tail(str(r[1])), r[2], r[3]) for r in rows],
                  title=f"{title} ({len(rows)}; -f csv|json for full values)", widths=[12, 24, 24, 0])


def _print_narrow(cols: list[str], rows: list[tuple[Any, ...]], title: str, widths: list[int],
                  max_width: int = 100) -> None:
    """A table that fits ``max_width`` columns: one line per row, each cell cut to its width (0: the rest),
    JSON and whitespace folded onto one line. -f csv|json give the full values."""
    from tasks.inspect.tree import fit

    total = min(out.width, max_width)
    rest = max(total - sum(widths) - 3 * len(cols) - 1, 12)
    t = Table(title=title, width=total, box=None, pad_edge=False, header_style="bold")
    for c, w in zip(cols, widths, strict=True):
        t.add_column(c, no_wrap=True, overflow="ellipsis", max_width=w or rest)
    for r in rows:
        t.add_row(*("" if v is None else fit(str(v), w or rest) for v, w in zip(r, widths, strict=True)))
    out.print(t, highlight=False)


@inspect_app.command("item")
def inspect_item(item_id: Annotated[str, typer.Argument(help="an item id (pool/question) or a trajectory id")],
                 data_dir: DataDirOpt = None, fmt: FormatOpt = "table",
                 full: Annotated[bool, typer.Option("--full", help="every section in full (tables)")] = False) -> None:
    """One item as a compact tree: path, question, gates, filter, each trajectory's turns one line each,
    exports. --full (or -f json|csv) prints every provenance section in full."""
    from tasks.inspect.tree import item_tree

    settings = _guard(lambda: _settings(data_dir))
    sections, turns = _guard(lambda: queries.item_with_turns(settings.warehouse_path, item_id))
    if not sections:
        err.print(f"[bold red]error:[/] no item or trajectory {escape(item_id)!r} in {settings.warehouse_path}")
        raise typer.Exit(1)
    if fmt == "json":
        doc = {name: [dict(zip(c, r, strict=True)) for r in rows] for name, (c, rows) in sections}
        sys.stdout.write(json.dumps(doc, default=str, indent=2) + "\n")
        return
    if full or fmt == "csv":
        for name, (cols, rows) in sections:
            _print(cols, rows, fmt, title=name)
        return
    lines = item_tree(item_id, dict(sections), turns, width=max(out.width, 60))
    sys.stdout.write("\n".join(lines) + "\n")


@app.command()
def sql(statement: str, data_dir: DataDirOpt = None, fmt: FormatOpt = "table") -> None:
    """Run read-only SQL against the warehouse and print the result."""
    settings = _guard(lambda: _settings(data_dir))
    cols, rows = _guard(lambda: queries.sql(settings.warehouse_path, statement))
    _print(cols, rows, fmt)


@app.command()
def publish(repo_id: Annotated[str, typer.Option("--repo-id", help="dataset repo on the Hub: ORG/NAME")],
            export_name: Annotated[str | None, typer.Option("--export", help="export folder name under "
                                                            "<data-dir>/export (default: the newest)")] = None,
            data_dir: DataDirOpt = None,
            private: Annotated[bool, typer.Option("--private", help="create the repo private")] = False) -> None:
    """Upload an export (shards, card, plots, manifest) to the Hub in one commit; a no-op when already there.

    The token comes only from the environment (SEARCHVL_HF_TOKEN or HF_TOKEN), the endpoint from
    SEARCHVL_HUB_ENDPOINT (default huggingface.co); a missing token fails before anything runs.
    """
    def body() -> None:
        from flows.publish import publish as publish_flow
        from tasks.publish.hub import find_export, publisher_from_settings

        settings = _settings(data_dir)
        publisher_from_settings(settings, repo_id, private=private)      # fail fast: token present
        find_export(settings.export_dir, export_name)                     # fail fast: export exists
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        res = publish_flow(repo_id, export_name, settings.data_dir, private)
        verb = "published" if res["status"] == "committed" else "unchanged, no commit:"
        out.print(f"{verb} {escape(res['export'])} → {escape(res['url'])} @ {res['commit'][:12]} "
                  f"({res['files']} files)", highlight=False)
    _guard(body)


@app.command("train")
def train_cmd(recipe: Annotated[Path, typer.Option("--recipe", "-r", help="training/recipes/*.yaml")],
              output_dir: Annotated[Path | None, typer.Option("--output-dir", help="override train.output_dir")] = None,
              export_dir: Annotated[Path | None, typer.Option("--export-dir", help="RL export folder")] = None,
              index_dir: Annotated[Path | None, typer.Option("--index-dir", help="<data_dir>/indexes")] = None,
              max_steps: Annotated[int | None, typer.Option("--max-steps")] = None,
              model_path: Annotated[Path | None, typer.Option(
                  "--model-path", help="override model.path (GRPO after SFT: the SFT run's final/)")] = None) -> None:
    """SFT or fatal-aware GRPO, as the recipe's `stage` says, on the exported shards (runs `python -m
    training.run` as a subprocess; one line per step)."""
    def body() -> None:
        from flows.train import train

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        res = train(str(recipe), output_dir, export_dir, index_dir, max_steps, model_path=model_path)
        for key in ("checkpoint", "output_dir", "log", "rollout_stats"):
            if res.get(key):
                out.print(f"{key.replace('_', ' ')}: {escape(str(res[key]))}", highlight=False)
        if res.get("first_loss") is not None:
            out.print(f"{res.get('stage')} loss: first logged step {res['first_loss']:.4f}, last "
                      f"{res['last_loss']:.4f} ({res.get('global_step')} steps)", highlight=False)

    _guard(body)


@app.command()
def merge(into: Annotated[Path, typer.Option("--into", help="data dir to merge into (created when missing)")],
          from_dirs: Annotated[list[Path], typer.Option("--from", help="a shard's data dir; repeat for each")],
          config: Annotated[Path | None, typer.Option(
              "--config", "-c", help="the shards' run config: then also pool → filter → synthesis → export "
                                     "on the merged warehouse")] = None) -> None:
    """Union the warehouses (and images) of `searchvl run --shard i/N` data dirs into one, then (with
    --config) run the stages that choose over the whole pool, so the result equals a single-worker run."""
    def body() -> None:
        from flows.sharded import merge_shards

        cfg = None
        if config is not None:
            _, cfg = _prepare(config, into)
        counts = merge_shards(cfg, into, from_dirs)
        _print(["outcome", "count"], sorted(counts.items()), "table", title=f"merged into {into}")
        if cfg is not None:
            _print_export(into)
    _guard(body)


def main() -> None:
    apply_prefect_defaults()
    app()
