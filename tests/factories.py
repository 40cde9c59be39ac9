"""Builders for test inputs (MediaWiki XML dumps, media folders, images, configs) and shared checks."""

from __future__ import annotations

import bz2
import io
import json
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from schemas.run_config import IngestConfig, SamplingConfig, SourceConfig
from schemas.settings import Settings
from tasks.sample.link_graph import LinkGraph
from tasks.sample.paths import Seed, sample_paths
from tasks.sample.stage import edge_text_lookup
from warehouse import graph as graph_repo
from warehouse.db import Connection

SITEINFO = """  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="6" case="first-letter">File</namespace>
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""


def page_xml(title: str, text: str = "", *, page_id: int = 1, ns: int = 0, redirect: str | None = None) -> str:
    red = f'    <redirect title="{escape(redirect)}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n{red}"
            f"    <revision>\n      <id>{page_id * 10}</id>\n      <timestamp>2016-01-01T00:00:00Z</timestamp>\n"
            f'      <text xml:space="preserve">{escape(text)}</text>\n    </revision>\n  </page>\n')


def dump_bytes(pages: list[str]) -> bytes:
    head = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
    return (head + SITEINFO + "".join(pages) + "</mediawiki>\n").encode("utf-8")


def write_dump(path: Path, pages: list[str]) -> Path:
    data = dump_bytes(pages)
    path.write_bytes(bz2.compress(data) if path.suffix == ".bz2" else data)
    return path


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def write_media(folder: Path, images: dict[str, bytes], license: str = "Public domain") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (name, data) in enumerate(images.items()):
        (folder / f"img{i}.png").write_bytes(data)
        lines.append(json.dumps({"file_name": name, "path": f"img{i}.png", "license": license,
                                 "author": "test", "source_url": f"https://example.org/{i}"}))
    (folder / "images.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def infobox(kind: str, image: str | None = None, **fields: str) -> str:
    body = "".join(f"| {k} = {v}\n" for k, v in fields.items())
    img = f"| image = {image}\n" if image else ""
    return f"{{{{Infobox {kind}\n{img}{body}}}}}\n"


def small_world(tmp_path: Path) -> tuple[SourceConfig, IngestConfig]:
    """A six-article world with a country seed (flag image), a chain of links and short infoboxes."""
    pages = [
        page_xml("Freedonia", infobox("country", "Flag of Freedonia.svg", capital="[[Fredville]]",
                                      currency="Freedonian dollar")
                 + "'''Freedonia''' is a country. Its capital is [[Fredville]]. It borders [[Sylvania]].",
                 page_id=1),
        page_xml("Fredville", infobox("settlement", mayor="[[Rufus T. Firefly]]", founded="1901")
                 + "'''Fredville''' is the capital of [[Freedonia]]. The mayor is [[Rufus T. Firefly]].",
                 page_id=2),
        page_xml("Rufus T. Firefly", infobox("officeholder", birth_date="{{birth date|1890|10|2}}",
                                             party="Freedom Party")
                 + "'''Rufus T. Firefly''' is mayor of [[Fredville]]. He was born in [[Sylvania]].", page_id=3),
        page_xml("Sylvania", infobox("country", capital="Sylvan City", currency="Sylvanian mark")
                 + "'''Sylvania''' borders [[Freedonia]]. Its ruler admired [[Rufus T. Firefly]].", page_id=4),
        page_xml("List of Freedonians", "A list: [[Rufus T. Firefly]], [[Freedonia]].", page_id=5),
        page_xml("Firefly", "", page_id=6, redirect="Rufus T. Firefly"),
    ]
    dump = write_dump(tmp_path / "small.xml.bz2", pages)
    media = write_media(tmp_path / "media", {"Flag of Freedonia.svg": png_bytes(768, 512)})
    src = SourceConfig(kind="xml", path=dump, media_dir=media)
    return src, IngestConfig(sources=[src], batch_pages=2)


def small_sampling(**over: object) -> SamplingConfig:
    base: dict[str, object] = {"seed_min_in_degree": 0, "seed_min_image_side": 512}
    base.update(over)
    return SamplingConfig.model_validate(base)


def check_paths(graph: LinkGraph, cfg: SamplingConfig, con: Connection, wiki: str,
                seeds: Sequence[Seed] | None = None) -> int:
    """Sample from ``seeds`` (default: every walkable node) and assert the paper's path rules on every
    path: simple, 2–4 hops over real edges, no excluded node or title, short answer, deterministic.
    Returns the number of paths."""
    if seeds is None:
        seeds = [Seed(v, "location") for v in range(graph.n_nodes) if not graph.excluded[v]]
    texts = edge_text_lookup(con, wiki, graph)
    paths, rejects = sample_paths(graph, wiki, seeds, cfg, lambda t: graph_repo.load_infoboxes(con, wiki, t), texts)
    index = {t: i for i, t in enumerate(graph.nodes.titles)}
    assert len(paths) + len(rejects) == len(seeds)
    for p in paths:
        ids = [index[n.title] for n in p.nodes]
        assert len(set(ids)) == len(ids) == p.hops + 1 and p.hops in (2, 3, 4)
        assert all(b in graph.neighbours(a) and not graph.excluded[b] for a, b in zip(ids, ids[1:], strict=False))
        assert all(not n.title.startswith(tuple(cfg.excluded_title_prefixes)) for n in p.nodes)
        assert all(s not in n.title for n in p.nodes for s in cfg.excluded_title_substrings)
        assert len(p.answer.split()) <= cfg.answer_max_tokens
        assert [e.src for e in p.edges] == [n.title for n in p.nodes[:-1]]
    again, _ = sample_paths(graph, wiki, seeds, cfg, lambda t: graph_repo.load_infoboxes(con, wiki, t), texts)
    assert again == paths, "seeded sampling is deterministic"
    return len(paths)


def ingest_and_sample(con: Connection, data_dir: Path, src: SourceConfig, sampling: SamplingConfig,
                      ingest_cfg: IngestConfig | None = None) -> None:
    """Ingest one source into ``con`` and sample its paths (the stages before questions), no Prefect."""
    from tasks.ingest.ingest import ingest_source
    from tasks.sample.stage import sample_all
    from warehouse.pages import refresh_degrees

    ingest_source(con, data_dir, src, ingest_cfg or IngestConfig(sources=[src], batch_pages=50), "run-test",
                  workers=1)
    refresh_degrees(con)
    sample_all(con, sampling, "run-test")


def corpus_through_pool(con: Connection, data_dir: Path, config_path: Path) -> None:
    """The bundled corpus through ingest, sampling, questions and the pool (no Prefect)."""
    from schemas.run_config import load_run_config
    from tasks.pool.stage import build_pool
    from tasks.questions.stage import question_all, text_index

    cfg = load_run_config(config_path)
    ingest_and_sample(con, data_dir, cfg.ingest.sources[0], cfg.sampling, cfg.ingest)
    question_all(con, cfg.questions, "run-test", data_dir, Settings(), text_index)
    build_pool(con, cfg.pool, "run-test", data_dir)


DEMO_CONFIG = Path(__file__).resolve().parents[1] / "flows/configs/demo.yaml"


def corpus_through_synthesis(con: Connection, data_dir: Path, config_path: Path = DEMO_CONFIG,
                             settings: Settings | None = None
                             ) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """The bundled corpus through the shortcut filter, enhancement and offline synthesis (no Prefect);
    returns the filter's and synthesis's outcome counts. Expects ``corpus_through_pool`` to have run.
    ``settings`` (default: ``Settings()`` for the models, local search indexes) go to ``build_tool_env``
    too, so they may switch the search tools to remote backends."""
    from schemas.run_config import load_run_config
    from tasks.filter.stage import filter_hash, filter_pool
    from tasks.pool.stage import enhance_pool
    from tasks.synthesize.models import filter_models, synthesis_models
    from tasks.synthesize.stage import synthesize_pool
    from tasks.tooling import build_tool_env, load_indexes
    from warehouse.synthesis import kept_item_ids

    cfg = load_run_config(config_path)
    env_settings = settings
    settings = settings or Settings()
    fm = filter_models(con, settings, cfg.teacher, cfg.filter, None, "run-test")
    env = build_tool_env(con, data_dir, settings=env_settings)
    filtered = filter_pool(con, cfg.filter, "run-test", data_dir, env, fm.make_solver, fm.judge)
    fhash = filter_hash(cfg.filter)
    enhance_pool(con, cfg.pool, "run-test", kept_item_ids(con, fhash), data_dir)
    models = synthesis_models(con, settings, cfg.teacher, cfg.synthesis, "run-test")
    indexes = load_indexes(con, data_dir)
    made = synthesize_pool(con, cfg.synthesis, "run-test", data_dir, fhash,
                           lambda: build_tool_env(con, data_dir, indexes=indexes, settings=env_settings), models)
    return dict(filtered), dict(made)


def exported_demo(tmp_path: Path, config_path: Path = DEMO_CONFIG) -> Path:
    """The bundled corpus through every stage and the export (no Prefect). Returns the export folder
    (``<tmp_path>/data/export/<name>/``); the data dir (warehouse, images, indexes) is its grandparent."""
    from schemas.run_config import load_run_config
    from tasks.export.stage import export_dataset
    from tasks.filter.stage import filter_hash
    from tasks.synthesize.stage import synthesis_hash
    from warehouse.db import connect

    data_dir = tmp_path / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = load_run_config(config_path)
    with connect(data_dir / "warehouse.duckdb") as con:
        corpus_through_pool(con, data_dir, config_path)
        corpus_through_synthesis(con, data_dir, config_path)
        res = export_dataset(con, data_dir, cfg.export, filter_hash(cfg.filter), "run-test", cfg.name,
                             cfg.synthesis.date, synthesis_hash=synthesis_hash(cfg.synthesis))
    return res.folder
