"""Export stage logic: warehouse → validated SFT/RL rows → parquet shards + card + manifest.

The folder is written under a temporary name and renamed when complete, so a crash leaves no half export;
an export whose inputs and config are unchanged (same export hash, folder present) is not rewritten.
Rows that fail validation are ``rejects`` rows (stage ``export``), never written.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.errors import PipelineError
from schemas.shards import SHARD_SCHEMA_VERSION, ExportConfig, ExportManifest, ImageBytes, RlRow, SftRow, ShardFile
from tasks.export import card as cards
from tasks.export.records import ExportRowError, rl_row, sft_row, split_items
from tasks.export.redact import REPO_ROOT, local_paths, redact_paths
from tasks.export.shards import WrittenShard, file_sha256, write_shards
from tasks.progress import bar
from tasks.synthesize.split import as_split_item, conflicts
from toolenv.registry import paper_tool_schemas
from warehouse import export as wx
from warehouse import splits as splits_repo
from warehouse.db import Connection
from warehouse.rejects import upsert_rejects

ShardWriter = Callable[[Path, str, str, Iterable[SftRow | RlRow], int], list[WrittenShard]]


class ExportError(PipelineError):
    """The export cannot be written (nothing to export, unreadable data dir, ...)."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    name: str
    folder: Path
    export_hash: str
    sft_rows: int
    rl_rows: dict[str, int]
    rejected: int
    unchanged: bool


def _sample(items: Sequence[str], size: int, seed: int) -> set[str]:
    if len(items) <= size:
        return set(items)
    return set(random.Random(seed).sample(sorted(items), size))


def _hash(cfg: ExportConfig, sft: Sequence[wx.SftCandidate], rl: Sequence[wx.RlCandidate],
          facts: dict[str, wx.ItemFacts], run_name: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"schema": SHARD_SCHEMA_VERSION, "cfg": cfg.model_dump(mode="json"), "run": run_name},
                        sort_keys=True).encode())
    parts: list[wx.SftCandidate | wx.RlCandidate | wx.ItemFacts] = [*sft, *rl, *(facts[k] for k in sorted(facts))]
    for part in parts:                  # dataclass reprs: deterministic, field by field, and cheap
        h.update(repr(part).encode())
    return h.hexdigest()[:20]


def _loader(con: Connection, data_dir: Path, shas: Sequence[str]) -> Callable[[str], ImageBytes]:
    files = wx.image_files(con, shas)

    def load(sha: str) -> ImageBytes:
        if sha not in files:
            raise ExportRowError(f"image {sha[:12]} is not in image_blobs")
        rel, fmt = files[sha]
        try:
            data = (data_dir / rel).read_bytes()
        except OSError as e:
            raise ExportRowError(f"image file {rel} unreadable: {e.strerror}") from e
        if not data:
            raise ExportRowError(f"image file {rel} is empty")
        return ImageBytes(bytes=data, path=f"{sha}.{fmt.lower()}")
    return load


def export_dataset(con: Connection, data_dir: Path, cfg: ExportConfig, filter_hash: str, run_id: str,
                   run_name: str, prompt_date: str, limit: int | None = None,
                   writer: ShardWriter = write_shards, *, synthesis_hash: str) -> ExportResult:
    """Write ``<data_dir>/export/<name>/`` from the warehouse; record it in ``exports`` / ``export_rows``.
    SFT rows are the accepted trajectories; RL rows the items ``synthesis_hash``'s config held out for RL.
    ``writer`` writes one config/split's rows as shards (``benchmarks/export.py`` swaps in datasets' writer)."""
    rl_all = wx.rl_candidates(con, filter_hash, synthesis_hash)
    held = wx.held_out_ids(con, synthesis_hash)
    guard: list[tuple[str, str, str]] = []
    sft_all = []
    for c in wx.sft_candidates(con):
        if c.item_id in held:        # its group moved to RL after the teacher ran
            guard.append((f"sft:{c.trajectory_id}", "split:item_held_out_for_rl", f"item {c.item_id} is RL"))
        else:
            sft_all.append(c)
    sft_size = min(cfg.sft_size, limit) if limit else cfg.sft_size
    rl_size = min(cfg.rl_size, limit) if limit else cfg.rl_size
    keep_sft = _sample([c.trajectory_id for c in sft_all], sft_size, cfg.seed)
    keep_rl = _sample([c.item_id for c in rl_all], rl_size, cfg.seed)
    sft = [c for c in sft_all if c.trajectory_id in keep_sft]
    rl = [c for c in rl_all if c.item_id in keep_rl]
    sft, dropped = _split_guard(con, sft, rl)
    guard += dropped
    overlap = {c.item_id for c in sft} & {c.item_id for c in rl}
    if overlap:                                    # the queries exclude it; guard the invariant anyway
        raise ExportError(f"SFT and RL share items: {sorted(overlap)[:3]}")
    facts = wx.item_facts(con, sorted({c.item_id for c in sft} | {c.item_id for c in rl}))
    recorded = wx.search_backends(con)        # per synthesis run; only the runs behind the exported rows count
    backends = {r: recorded[r] for r in sorted({c.run_id or "" for c in sft}) if r in recorded}
    export_hash = _hash(cfg, sft, rl, facts, f"{run_name}|{json.dumps(_backend_labels(backends), sort_keys=True)}")
    root = data_dir / "export"
    known = wx.find_export(con, export_hash)
    if known and (Path(known[1]) / "manifest.json").is_file():
        m = ExportManifest.model_validate_json((Path(known[1]) / "manifest.json").read_text())
        if m.export_hash == export_hash:
            return ExportResult(m.name, Path(known[1]), export_hash, m.sft_rows, m.rl_rows, 0, True)

    rules = splits_repo.item_rules(con, synthesis_hash, sorted(facts))
    shas = [s for c in sft for t in c.turns for s in t.image_sha256s] + [c.image_sha256 for c in rl if c.image_sha256]
    load = _loader(con, data_dir, shas)
    rejects: list[tuple[str, str, str]] = []
    hops: list[int] = []
    tool_calls: list[int] = []
    tools_used: Counter[str] = Counter()
    tools_degraded: Counter[str] = Counter()
    degraded = [0]

    def sft_rows() -> Iterator[SftRow]:
        for c in bar(sft, "export sft"):
            try:
                row = sft_row(c, facts[c.item_id], load, backends.get(c.run_id or ""),
                              rules.get(c.item_id, ("", ""))[1] or None)
            except (ExportRowError, KeyError) as e:
                rejects.append((f"sft:{c.trajectory_id}", "invalid_row", str(e)[:500]))
                continue
            tool_calls.append(c.tool_calls)
            tools_used.update(t.tool for t in c.turns if t.tool)
            if facts[c.item_id].degradation:
                degraded[0] += 1
                tools_degraded.update(t.tool for t in c.turns if t.tool)
            if facts[c.item_id].hops:
                hops.append(int(facts[c.item_id].hops or 0))
            yield row

    splits = split_items([c.item_id for c in rl], cfg.validation_fraction, cfg.seed)
    system = _system_prompt(sft, prompt_date)

    def rl_rows(split: str) -> Iterator[RlRow]:
        for c in bar([c for c in rl if splits[c.item_id] == split], f"export rl/{split}"):
            try:
                row = rl_row(c, facts[c.item_id], load, splits[c.item_id], system,
                             rules.get(c.item_id, ("", ""))[1] or None)
            except (ExportRowError, KeyError) as e:
                rejects.append((f"rl:{c.item_id}", "invalid_row", str(e)[:500]))
                continue
            if facts[c.item_id].hops:
                hops.append(int(facts[c.item_id].hops or 0))
            yield row

    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{export_hash}"
    shutil.rmtree(tmp, ignore_errors=True)
    shards: dict[tuple[str, str], list[WrittenShard]] = {
        ("sft", "train"): writer(tmp, "sft", "train", sft_rows(), cfg.max_shard_bytes),
        ("rl", "train"): writer(tmp, "rl", "train", rl_rows("train"), cfg.max_shard_bytes),
    }
    if any(s == "validation" for s in splits.values()):
        shards[("rl", "validation")] = writer(tmp, "rl", "validation", rl_rows("validation"),
                                                    cfg.max_shard_bytes)
    n_sft = sum(s.rows for s in shards[("sft", "train")])
    sft_rows_items = {i for s in shards[("sft", "train")] for i in s.item_ids}
    rl_rows_items = {i for (c, _), lst in shards.items() if c == "rl" for s in lst for i in s.item_ids}
    raw_config = wx.latest_run_config(con)
    run_config = json.dumps(redact_paths(json.loads(raw_config), data_dir)) if raw_config else None
    notes, decon_dropped = wx.decontam_summary(con)
    rl_counts = {split: sum(s.rows for s in shards.get(("rl", split), [])) for split in ("train", "validation")}
    name = cfg.name or f"{run_name}-sft{n_sft}-rl{sum(rl_counts.values())}"
    final = root / name
    files = [ShardFile(config=c, split=sp, path=str(s.path.relative_to(tmp)), rows=s.rows,
                       sha256=file_sha256(s.path))
             for (c, sp), lst in shards.items() for s in lst]
    data = cards.CardData(
        name=name, title=f"SearchVL-SFT-{n_sft} / SearchVL-RL-{sum(rl_counts.values())} ({run_name})",
        run_id=run_id, export_hash=export_hash, schema_version=SHARD_SCHEMA_VERSION, sft_rows=n_sft,
        rl_train=rl_counts["train"], rl_validation=rl_counts["validation"], sft_size=cfg.sft_size,
        rl_size=cfg.rl_size, validation_pct=round(cfg.validation_fraction * 100), seed=cfg.seed,
        load_path=f"{root.name}/{name}", funnel=wx.funnel(con), gates=wx.gate_pass_rates(con), usage=wx.usage(con),
        labels=wx.labels(con), articles=wx.text_attribution(con, sorted({n[0] for f in facts.values()
                                                                         for n in f.nodes})),
        images=wx.image_licences(con, shas), run_config=run_config, hops=hops,
        tool_calls=tool_calls, tools_used=tools_used, tools_degraded=tools_degraded, degraded_rows=degraded[0],
        split_bytes={key: sum(s.path.stat().st_size for s in lst) for key, lst in shards.items()},
        data_dir_default=_data_dir_default(data_dir), split_dropped=Counter(r[1] for r in guard),
        split_rules=_split_rules(rules, sft_rows_items, rl_rows_items),
        backends=_backend_labels(backends), benchmarks=_benchmarks(run_config),
        decontam_notes=notes, decontam_dropped=decon_dropped)
    cards.plot_histograms(tmp, data)
    leftover = local_paths(cards.render_card(data))
    if leftover:
        raise ExportError(f"the card would hold local paths {leftover[:3]}; redact them before export")
    (tmp / "README.md").write_text(cards.render_card(data).lstrip(), encoding="utf-8")
    manifest = ExportManifest(name=name, run_id=run_id, export_hash=export_hash, sft_rows=n_sft, rl_rows=rl_counts,
                              files=files, offline_fallbacks=sorted({f["label"] for f in cards.fallbacks(data.labels)}),
                              created_at=datetime.now(UTC).isoformat(timespec="seconds"))
    (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    rows = [(c, sp, rid, iid, str(s.path.relative_to(tmp)))
            for (c, sp), lst in shards.items() for s in lst for rid, iid in zip(s.row_ids, s.item_ids, strict=True)]
    wx.record_export(con, export_hash, name, run_id, str(final), n_sft, rl_counts, len(files), size,
                     cfg.model_dump(mode="json"), rows)
    upsert_rejects(con, "export", run_id, rejects + guard)
    return ExportResult(name, final, export_hash, n_sft, rl_counts, len(rejects) + len(guard), False)


def _data_dir_default(data_dir: Path) -> str:
    """The data dir relative to the repository root (the card's snippet runs there), else ``var``."""
    try:
        return data_dir.resolve().relative_to(REPO_ROOT).as_posix() or "."
    except ValueError:
        return "var"


def _split_rules(rules: dict[str, tuple[str, str]], sft_items: set[str], rl_items: set[str]
                 ) -> list[tuple[str, str, int]]:
    counts = Counter((side, rules.get(i, ("", "not recorded"))[1]) for side, ids in (("sft", sft_items),
                                                                                     ("rl", rl_items)) for i in ids)
    return [(side, rule, n) for (side, rule), n in sorted(counts.items(), key=lambda kv: (kv[0][0] != "sft", -kv[1]))]


def _backend_labels(backends: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for labels in backends.values():
        for tool, label in labels.items():
            out.setdefault(tool, set()).add(label)
    return {k: sorted(v) for k, v in out.items()}


def _benchmarks(run_config: str | None) -> list[dict[str, object]]:
    """The configured decontamination benchmarks (name, where: redacted path or Hub id) of the run config."""
    if not run_config:
        return []
    cfg = json.loads(run_config)
    benches = ((cfg.get("pool") or {}).get("decontam") or {}).get("benchmarks") or []
    return [{"name": b.get("name"), "where": b.get("hub_id") or b.get("path")} for b in benches if isinstance(b, dict)]


def _split_guard(con: Connection, sft: Sequence[wx.SftCandidate], rl: Sequence[wx.RlCandidate]
                 ) -> tuple[list[wx.SftCandidate], list[tuple[str, str, str]]]:
    """SFT rows that would break the group split (``tasks.synthesize.split.conflicts``: a key shared with an RL
    item, or an RL answer/alias in the SFT question or final answer) are left out with a reason. The split
    placed whole groups, so this finds nothing unless a group spanned shards or the pool changed since."""
    items = {r[0]: as_split_item(r) for r in splits_repo.split_rows(con, sorted({c.item_id for c in sft}
                                                                               | {c.item_id for c in rl}))}
    finals: dict[str, str] = {}
    for c in sft:
        finals[c.item_id] = f"{finals.get(c.item_id, '')}\n{c.final_answer or c.answer}"
    bad = {x.item_id: x for x in conflicts([items[i] for i in sorted(finals) if i in items],
                                           [items[c.item_id] for c in rl if c.item_id in items], finals)}
    kept = [c for c in sft if c.item_id not in bad]
    dropped = [(f"sft:{c.trajectory_id}", f"split:{bad[c.item_id].rule}",
                f"RL item {bad[c.item_id].rl_item}: {bad[c.item_id].detail}"[:500]) for c in sft if c.item_id in bad]
    return kept, dropped


def _system_prompt(sft: Sequence[wx.SftCandidate], date: str) -> str:
    """The agent system prompt of the RL ``prompt``: the teacher's, or rendered from the paper's tools."""
    for c in sft:
        if c.turns and c.turns[0].role == "system":
            return c.turns[0].content
    from prompts import render

    return render("synthesize/system.j2", tools=paper_tool_schemas(), date=date).text
