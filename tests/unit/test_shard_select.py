"""Seed shards: a stable hash partition of the seeds; a shard samples exactly what the single run samples
for its seeds, with the same ids, and global seed caps keep their single-run meaning."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.errors import ConfigError
from schemas.run_config import IngestConfig, QuestionsConfig, RunConfig, SamplingConfig, ShardSpec, SourceConfig
from tasks.sample.link_graph import EdgeTable, LinkGraph, NodeTable, build_graph
from tasks.sample.paths import sample_paths, sampling_hash, select_seeds

KINDS = ["infobox country", "infobox officeholder", "infobox museum", "taxobox", "infobox ship", "infobox widget"]


def world(n: int = 120, seed: int = 3) -> LinkGraph:
    """Seeds of every domain (some ineligible: small image, no image, no domain) over a random link graph."""
    rng = np.random.default_rng(seed)
    titles = [f"Page {i:03d}" for i in range(n)]
    kinds = [KINDS[i % len(KINDS)] if i % 7 else None for i in range(n)]
    sides = np.where(np.arange(n) % 5 == 0, 100, 800).astype(np.int64)
    sides[np.arange(n) % 11 == 0] = 0
    src, dst = rng.integers(0, n, 6 * n).astype(np.int64), rng.integers(0, n, 6 * n).astype(np.int64)
    keep = src != dst
    pairs = np.unique(np.stack([src[keep], dst[keep]], axis=1), axis=0)
    s, d = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    nodes = NodeTable(titles, kinds, np.bincount(d, minlength=n).astype(np.int64), np.zeros(n, dtype=bool), sides)
    edges = EdgeTable(s, d, np.zeros(len(s), dtype=np.int64))
    return build_graph(nodes, edges, SamplingConfig(seed_min_in_degree=0))


def boxes(titles):  # type: ignore[no-untyped-def]
    return {t: {"founded": str(1900 + int(t.split()[-1]))} for t in titles if not t.endswith("3")}


@pytest.mark.parametrize(("text", "index", "count"), [("0/1", 0, 1), ("3/4", 3, 4), (" 1 / 2 ", 1, 2)])
def test_shard_spec_parses(text: str, index: int, count: int) -> None:
    spec = ShardSpec.model_validate(text)
    assert (spec.index, spec.count) == (index, count)
    assert str(spec) == f"{index}/{count}"


@pytest.mark.parametrize("text", ["2/2", "1", "a/b", "-1/2", "0/0"])
def test_shard_spec_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValidationError):
        ShardSpec.model_validate(text)


def test_every_seed_has_exactly_one_shard() -> None:
    titles = [f"Title {i}" for i in range(500)]
    specs = [ShardSpec(index=i, count=3) for i in range(3)]
    owners = [[s.owns("enwiki", t) for s in specs] for t in titles]
    assert all(sum(o) == 1 for o in owners)
    assert all(sum(o[i] for o in owners) > 100 for i in range(3))       # roughly balanced
    assert [s.owns("enwiki", "X") for s in specs] == [s.owns("enwiki", "X") for s in specs]   # stable
    assert ShardSpec(index=0, count=1).owns("enwiki", "anything")


@pytest.mark.parametrize("caps", [{}, {"max_seeds": 9}, {"domain_quota": 2}])
def test_shards_partition_the_single_selection(caps: dict[str, int]) -> None:
    g = world()
    cfg = SamplingConfig(seed_min_in_degree=0, seed_min_image_side=512, max_retries=20, **caps)  # type: ignore[arg-type]
    seeds, rejects = select_seeds(g, "w", cfg)
    parts = [select_seeds(g, "w", cfg.model_copy(update={"shard": ShardSpec(index=i, count=3)})) for i in range(3)]
    shard_seeds = [s for p in parts for s in p[0]]
    shard_rejects = [r for p in parts for r in p[1]]
    assert sorted(shard_seeds, key=repr) == sorted(seeds, key=repr) and len(shard_seeds) == len(set(shard_seeds))
    assert sorted(shard_rejects, key=repr) == sorted(rejects, key=repr)
    assert all(p[0] for p in parts), "every shard got seeds"
    assert {r.reason for r in rejects} >= {"no_image", "image_too_small", "no_domain"}
    if caps:
        assert any(r.reason == "over_quota" for r in rejects)


def test_shard_paths_are_the_single_runs_paths() -> None:
    g = world()
    cfg = SamplingConfig(seed_min_in_degree=0, seed_min_image_side=512, max_retries=20, paths_per_seed=2)
    single, single_rejects = sample_paths(g, "w", select_seeds(g, "w", cfg)[0], cfg, boxes)
    merged, merged_rejects = [], []
    for i in range(2):
        scfg = cfg.model_copy(update={"shard": ShardSpec(index=i, count=2)})
        assert sampling_hash(scfg) == sampling_hash(cfg)
        paths, rejects = sample_paths(g, "w", select_seeds(g, "w", scfg)[0], scfg, boxes)
        assert all(scfg.shard is not None and scfg.shard.owns("w", p.seed_title) for p in paths)
        merged += paths
        merged_rejects += rejects
    assert single, "the world yields paths"
    assert sorted(merged, key=lambda p: p.path_id) == sorted(single, key=lambda p: p.path_id)
    assert sorted(merged_rejects, key=repr) == sorted(single_rejects, key=repr)


def _run_config(**questions: int) -> RunConfig:
    return RunConfig(name="t", ingest=IngestConfig(sources=[SourceConfig(kind="live", titles=["A"])]),
                     questions=QuestionsConfig(**questions))  # type: ignore[arg-type]


def test_with_shard_keeps_the_config_hash_and_refuses_item_caps() -> None:
    cfg = _run_config()
    sharded = cfg.with_shard("1/2")
    assert sharded.sampling.shard == ShardSpec(index=1, count=2)
    assert sharded.config_hash() == cfg.config_hash()
    assert '"shard": {"count": 2, "index": 1}' in sharded.as_json()
    with pytest.raises(ConfigError, match="max_items"):
        _run_config(max_items=5).with_shard("0/2")
    with pytest.raises(ConfigError, match="max_items"):
        cfg.preview(3).with_shard("0/2")
    assert _run_config(max_items=5).with_shard("0/1").sampling.shard is not None    # one shard is the whole run
    with pytest.raises(ConfigError, match="--shard"):
        cfg.with_shard("2/2")
    with pytest.raises(ValidationError, match="max_items"):
        RunConfig.model_validate({"name": "t", "ingest": {"sources": [{"kind": "live", "titles": ["A"]}]},
                                  "sampling": {"shard": "0/2"}, "questions": {"max_items": 3}})
