"""The dataset card (``README.md``) and its plots, generated from the warehouse and the written rows."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from PIL import Image, ImageDraw, ImageFont

# label -> what the offline stand-in is (labels come from the rows' method / model columns)
FALLBACKS: dict[str, str] = {
    "rule-based": "rule-based question writing and fuzzy rewriting (templates + lead-sentence/infobox descriptors)",
    "heuristic": "heuristic image relevance (infobox image of the anchor's page, caption/file-name agreement) "
                 "instead of CLIP",
    "path-guided": "path-guided offline policy (uses the item's hidden path to make real tool calls) instead "
                   "of a teacher model",
    "alias-match": "alias-aware normalised string match instead of an LLM answer judge",
    "rules": "documented rule-based process judge instead of an LLM rubric",
    "lanczos": "Lanczos + unsharp upscaling instead of EDSR (no EDSR weights configured)",
}


@dataclass
class CardData:
    name: str
    title: str
    run_id: str
    export_hash: str
    schema_version: str
    sft_rows: int
    rl_train: int
    rl_validation: int
    sft_size: int
    rl_size: int
    validation_pct: int
    seed: int
    load_path: str
    funnel: list[tuple[str, str, str, int]]
    gates: list[tuple[str, int, float]]
    usage: dict[str, Any]
    labels: dict[str, list[str]]
    articles: list[tuple[str, str, int | None, str | None, str | None]]
    images: list[tuple[str, str | None, str | None, str | None]]
    run_config: str | None
    hops: list[int] = field(default_factory=list)
    tool_calls: list[int] = field(default_factory=list)
    tools_used: Counter[str] = field(default_factory=Counter)
    tools_degraded: Counter[str] = field(default_factory=Counter)   # tool calls in SFT rows with a degraded image
    degraded_rows: int = 0
    split_bytes: dict[tuple[str, str], int] = field(default_factory=dict)   # (config, split) -> parquet bytes
    data_dir_default: str = "var"        # the snippet's data dir when SEARCHVL_DATA_DIR is unset
    split_rules: list[tuple[str, str, int]] = field(default_factory=list)    # (side, rule, items)
    split_dropped: Counter[str] = field(default_factory=Counter)              # export guard: reason -> SFT rows
    backends: dict[str, list[str]] = field(default_factory=dict)              # tool -> backend labels
    benchmarks: list[dict[str, Any]] = field(default_factory=list)            # configured decontam benchmarks
    decontam_notes: dict[str, int] = field(default_factory=dict)
    decontam_dropped: list[tuple[str, str, int]] = field(default_factory=list)


def dataset_info_yaml(data: CardData) -> str:
    """The ``dataset_info`` front-matter list: features, split sizes and bytes per config. Besides documenting
    the schema, it makes ``datasets``' local cache key change when the shards change (the key hashes the card's
    ``configs`` and ``dataset_info``, not the files), so a re-export under the same name never loads stale rows."""
    import yaml
    from datasets import DatasetInfo, SplitDict, SplitInfo

    from tasks.export.shards import features

    rows = {("sft", "train"): data.sft_rows, ("rl", "train"): data.rl_train, ("rl", "validation"): data.rl_validation}
    infos = []
    for config in ("sft", "rl"):
        splits = SplitDict()
        for (c, split), n in rows.items():
            if c == config and n:
                splits.add(SplitInfo(name=split, num_bytes=data.split_bytes.get((c, split), 0), num_examples=n))
        if not splits:
            continue
        size = sum(b for (c, _), b in data.split_bytes.items() if c == config)
        infos.append(DatasetInfo(features=features(config), splits=splits, download_size=size, dataset_size=size,
                                 config_name=config)._to_yaml_dict())
    return "\n" + yaml.safe_dump(infos, sort_keys=False, allow_unicode=True).rstrip() if infos else " []"


def fallbacks(labels: dict[str, list[str]]) -> list[dict[str, str]]:
    """Stages whose recorded label is an offline stand-in."""
    out = []
    for stage, values in sorted(labels.items()):
        for label in values:
            key = label.split(":", 1)[0]
            if key in FALLBACKS:
                out.append({"stage": stage, "label": label, "what": FALLBACKS[key]})
    return out


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return name
    return "100K<n<1M"


def _histogram(values: list[int], title: str, xlabel: str, path: Path) -> None:
    """A bar chart of integer counts drawn with PIL (no plotting stack in the export path)."""
    w, h, left, right, top, bottom = 560, 320, 56, 20, 40, 56
    im = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    d.text((w // 2, 12), title, fill="black", font=font, anchor="mt")
    d.text((w // 2, h - 10), xlabel, fill="black", font=small, anchor="mb")
    d.text((4, (top + h - bottom) // 2), "count", fill="black", font=small, anchor="lm")
    x0, x1, y0, y1 = left, w - right, top, h - bottom
    d.line([(x0, y0), (x0, y1), (x1, y1)], fill="black", width=1)
    if not values:
        d.text(((x0 + x1) // 2, (y0 + y1) // 2), "no rows", fill="gray", font=font, anchor="mm")
    else:
        counts = Counter(values)
        lo, hi = min(counts), max(counts)
        peak = max(counts.values())
        slot = (x1 - x0) / (hi - lo + 1)
        for k, v in enumerate(range(lo, hi + 1)):
            n = counts.get(v, 0)
            bx = x0 + k * slot
            by = y1 - (y1 - y0 - 16) * n / peak
            if n:
                d.rectangle([bx + slot * 0.12, by, bx + slot * 0.88, y1 - 1], fill="#4472c4")
                d.text((bx + slot / 2, by - 3), str(n), fill="black", font=small, anchor="mb")
            d.text((bx + slot / 2, y1 + 4), str(v), fill="black", font=small, anchor="mt")
    im.save(path, format="PNG", optimize=True)


def plot_histograms(folder: Path, data: CardData) -> list[Path]:
    """``plots/hops.png`` and ``plots/tool_calls.png``."""
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    out = []
    for fname, values, xlabel, title in (
            ("hops.png", data.hops, "hops (anchor -> answer)", "Hops per exported item"),
            ("tool_calls.png", data.tool_calls, "tool calls", "Tool calls per SFT trajectory")):
        path = folder / "plots" / fname
        _histogram(values, title, xlabel, path)
        out.append(path)
    return out


def _benchmark_rows(data: CardData) -> list[tuple[str, str, int, int, int]]:
    """``(name, where, rows indexed, images indexed, items dropped)`` per configured benchmark."""
    dropped = Counter[str]()
    for bench, _, n in data.decontam_dropped:
        dropped[bench] += n
    return [(str(b["name"]), str(b.get("where", "")), data.decontam_notes.get(f"benchmark_rows:{b['name']}", 0),
             data.decontam_notes.get(f"benchmark_images:{b['name']}", 0), dropped[str(b["name"])])
            for b in data.benchmarks]


def render_card(data: CardData) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    usage_rows = [(k.replace("_", " "), v) for k, v in data.usage.items()]
    avg = round(sum(data.tool_calls) / len(data.tool_calls), 2) if data.tool_calls else 0
    run_config = json.dumps(json.loads(data.run_config), indent=2, sort_keys=True) if data.run_config else "{}"
    return env.get_template("card.md.j2").render(
        **{k: getattr(data, k) for k in ("name", "title", "run_id", "export_hash", "schema_version", "sft_rows",
                                         "rl_train", "rl_validation", "sft_size", "rl_size", "validation_pct",
                                         "seed", "load_path", "funnel", "gates", "articles", "images")},
        dataset_info_yaml=dataset_info_yaml(data),
        hub_license="cc-by-sa-4.0" if any((a[4] or "")[:10] >= "2023-06-29" for a in data.articles) else "cc-by-sa-3.0",
        size_category=_size_category(data.sft_rows + data.rl_train + data.rl_validation),
        fallbacks=fallbacks(data.labels), usage=usage_rows, avg_tool_calls=avg,
        data_dir_default=data.data_dir_default, split_rules=data.split_rules,
        split_dropped=sorted(data.split_dropped.items()), backends=sorted(data.backends.items()),
        benchmarks=_benchmark_rows(data), decontam_dropped=data.decontam_dropped,
        tools_used=sorted(data.tools_used.items(), key=lambda kv: (-kv[1], kv[0])), run_config=run_config,
        tools_degraded=sorted(data.tools_degraded.items(), key=lambda kv: (-kv[1], kv[0])),
        degraded_rows=data.degraded_rows)
