"""The tool environment over the warehouse: local search indexes, the ``tool_calls`` memo, one-off calls.

Shared by every stage that drives ``toolenv`` (teacher synthesis) and by ``searchvl tool``:

- ``build_tool_env``: a ``ToolEnv`` whose ``text_search`` is a BM25 index over the ingested articles
  (title, aliases, lead, infobox values), whose ``image_search`` indexes every ingested image with
  the pages showing it, with rapidocr OCR when the ``tools`` extra is installed, and with the
  warehouse memo as its ``ToolCache``;
- ``load_indexes``: the two indexes, saved under ``<data_dir>/indexes/`` keyed by a content digest of
  what they hold, so a second build with unchanged pages and images only reopens them;
- ``remote_backends``: the Serper/Jina web search and Lens image search that ``Settings`` configure
  (``SEARCHVL_SEARCH_API_URL``, ``SEARCHVL_IMAGE_SEARCH_URL``, …); each replaces its local index;
- ``WarehouseToolCache``: the ``ToolCache`` adapter over ``warehouse/tool_calls.py``;
- ``run_tool_once``: one tool call by hand (the ``searchvl tool`` command).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from schemas.errors import PipelineError, WarehouseError
from schemas.settings import Settings
from tasks.wikimarkup import strip_template_markup
from toolenv import (
    CachedResult,
    Document,
    EnvConfig,
    EpisodeItem,
    ImageEntry,
    ImageIndex,
    ImageSearch,
    JinaReader,
    LensImageSearch,
    OcrEngine,
    RapidOcrEngine,
    SerperSearch,
    TextIndex,
    TextSearch,
    ToolCache,
    ToolEnv,
)
from toolenv.env import Observation
from warehouse import db
from warehouse import tool_calls as repo
from warehouse.db import Connection, load_query
from warehouse.questions import article_documents

log = logging.getLogger(__name__)

#: Part of every saved index's key, with the source of the code that builds it (``_code_digest``).
INDEX_VERSION = "3"
INDEX_DIR = "indexes"


class ToolRunError(PipelineError):
    """A hand-run tool call cannot start: bad arguments JSON, unreadable image, unknown tool, no warehouse."""


def page_url(wiki: str, title: str) -> str:
    """``https://en.wikipedia.org/wiki/Title_With_Underscores`` for ``enwiki`` (``xx_yywiki`` → ``xx-yy``)."""
    lang = wiki[:-4].replace("_", "-") if wiki.endswith("wiki") and len(wiki) > 4 else "en"
    return f"https://{lang}.wikipedia.org/wiki/{title.replace(' ', '_')}"


# ---------------------------------------------------------------- the memo
_CACHE_LOCK = threading.Lock()


class WarehouseToolCache:
    """``ToolCache`` over the warehouse's ``tool_calls`` table, reusable across runs.

    Instances share one process-wide lock, so several environments (one per parallel episode) may use
    caches over the same connection; the environment calls its cache on the thread that calls
    ``step``/``call``, and the connection must not be used by another thread meanwhile. With ``read_only`` it
    serves hits from a snapshot but writes nothing (no new entries, no hit counts). ``tool`` names the
    tool on the entries it writes for callers that run one tool (``ToolCache.put`` does not carry the
    name). ``hits``, ``misses`` and ``writes`` count this instance's traffic.
    """

    def __init__(self, con: Connection, *, read_only: bool = False, tool: str | None = None) -> None:
        self._con = con
        self.read_only = read_only
        self.tool = tool
        self._lock = _CACHE_LOCK
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def get(self, key: str) -> CachedResult | None:
        with self._lock:
            entry = repo.get_tool_call(self._con, key, count_hit=not self.read_only)
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
        return CachedResult(entry.response, entry.images, entry.dropped_by_guard)

    def put(self, key: str, result: CachedResult, latency_ms: float, tool: str | None = None) -> None:
        """Store a successful result (the environment never passes errors); ``tool`` overrides ``self.tool``."""
        if self.read_only:
            return
        with self._lock:
            self.writes += repo.put_tool_call(self._con, key, tool=tool or self.tool, response=result.text,
                                              images=result.images, dropped_by_guard=result.dropped_by_guard,
                                              latency_ms=round(latency_ms, 3))


# ---------------------------------------------------------------- the search indexes
@dataclass(frozen=True, slots=True)
class SearchIndexes:
    """The local search backends of the tool environment and where they came from."""

    text: TextIndex
    image: ImageIndex
    text_path: Path
    image_path: Path
    rebuilt: tuple[str, ...]          # "text" / "image" when built now rather than reopened
    missing_image_files: int          # image rows whose bytes are not under the data directory


def text_documents(con: Connection, wiki: str | None = None) -> Iterator[Document]:
    """One ``Document`` per article of ``wiki`` (None: every wiki): title, its Wikipedia URL, lead text and
    infobox (as the question stage's uniqueness index has them), the body sentences that carry links (pages keep
    only their lead), and every
    alias (redirects, bold lead names, infobox names), so a page is found by any of its names."""
    for w in [wiki] if wiki is not None else repo.wikis(con):
        for title, lead, box, body, aliases in article_documents(con, w, body=True):   # streamed, title order
            text = f"{lead}\n{box}\n\n{body}" if body is not None else f"{lead}\n{box}"
            text = strip_template_markup(text)       # no citation/template pieces in what a search quotes
            yield Document(title, page_url(w, title), text, tuple(aliases))


def image_entries(con: Connection, data_dir: Path, wiki: str | None = None) -> tuple[list[ImageEntry], int]:
    """``ImageEntry`` values for every ingested image and page showing it (bytes read from ``data_dir``),
    and how many rows had no file on disk."""
    entries: list[ImageEntry] = []
    missing = 0
    cache: dict[str, bytes | None] = {}
    for row in repo.image_rows(con, wiki):
        if row.sha256 not in cache:
            f = data_dir / row.path
            cache[row.sha256] = f.read_bytes() if f.is_file() else None
        data = cache[row.sha256]
        if data is None:
            missing += 1
            continue
        entries.append(ImageEntry(row.sha256, data, row.title, row.caption, page_url(row.wiki, row.title)))
    return entries, missing


def load_indexes(con: Connection, data_dir: Path, *, wiki: str | None = None,
                 index_dir: Path | None = None) -> SearchIndexes:
    """Reopen the saved text and image indexes when their content digest still matches the warehouse,
    else build and save them (atomically; stale sibling indexes for the same scope are removed).

    Reads: ``pages``, ``all_aliases``, ``image_refs``/``image_files``/``image_blobs``; image files under
    ``data_dir``. Writes: nothing in the warehouse. Side effects: index folders under ``index_dir``
    (default ``<data_dir>/indexes``).
    """
    root = index_dir or data_dir / INDEX_DIR
    scope = wiki or "all"
    rebuilt: list[str] = []
    text_key = _digest(INDEX_VERSION, "text", scope, repo.text_corpus_digest(con, wiki),
                       load_query("article_documents"),
                       _code_digest(text_documents, page_url, article_documents, TextIndex, strip_template_markup))
    text_path = root / f"text-{scope}-{text_key}"
    if not text_path.is_dir():
        with _fresh_dir(text_path) as tmp:
            TextIndex.from_documents(text_documents(con, wiki), path=tmp)
        rebuilt.append("text")
    text = TextIndex.open(text_path)

    rows = repo.image_rows(con, wiki)
    image_key = _digest(INDEX_VERSION, "image", scope,
                        _code_digest(image_entries, page_url, repo.image_rows, ImageIndex),
                        *(f"{r.wiki}|{r.sha256}|{r.path}|{r.title}|{r.caption}" for r in rows))
    image_path = root / f"image-{scope}-{image_key}"
    missing = 0
    if not image_path.is_dir():
        entries, missing = image_entries(con, data_dir, wiki)
        with _fresh_dir(image_path) as tmp:
            ImageIndex.build(entries).save(tmp)
        rebuilt.append("image")
        if missing:
            log.warning("image index: %d image rows have no file under %s", missing, data_dir)
    image = ImageIndex.load(image_path)
    log.info("search indexes (%s): %d documents, %d images%s", scope, len(text), len(image),
             f"; rebuilt {', '.join(rebuilt)}" if rebuilt else "")
    return SearchIndexes(text, image, text_path, image_path, tuple(rebuilt), missing)


def uniqueness_documents(con: Connection, wiki: str) -> Iterator[Document]:
    """The question stage's uniqueness index documents: title, lead and infobox values of every article."""
    for title, lead, box, _, _ in article_documents(con, wiki, body=False):
        yield Document(title, page_url(wiki, title), f"{lead}\n{box}")


def load_uniqueness_index(con: Connection, data_dir: Path, wiki: str, *, index_dir: Path | None = None) -> TextIndex:
    """The question stage's uniqueness index of ``wiki`` (``uniqueness_documents``), saved beside the tool indexes
    and keyed the same way (content digest of the articles, code digest of what builds it): a rerun, and every
    shard of a sharded run (their ``indexes/`` is the base's), opens it instead of indexing every page again."""
    root = index_dir or data_dir / INDEX_DIR
    key = _digest(INDEX_VERSION, "uniqueness", wiki, repo.text_corpus_digest(con, wiki), load_query("article_texts"),
                  _code_digest(uniqueness_documents, article_documents, page_url, TextIndex))
    path = root / f"uniqueness-{wiki}-{key}"
    if not path.is_dir():
        with _fresh_dir(path) as tmp:
            TextIndex.from_documents(uniqueness_documents(con, wiki), path=tmp)
        log.info("uniqueness index (%s): built", wiki)
    return TextIndex.open(path)


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def _code_digest(*objs: object) -> str:
    """Digest of the modules defining ``objs``: a saved index is rebuilt when the code that builds it
    changes (Prefect's task-source cache policy, applied to the index)."""
    h = hashlib.sha256()
    for name in sorted({getattr(o, "__module__", "") for o in objs}):
        module = sys.modules.get(name)
        try:
            h.update(inspect.getsource(module).encode() if module is not None else name.encode())
        except (OSError, TypeError):  # no source (frozen or zipped install): the version string decides
            h.update(name.encode())
    return h.hexdigest()[:16]


@contextmanager
def _fresh_dir(final: Path) -> Iterator[Path]:
    """A private empty folder that becomes ``final`` when the block succeeds (another process may have
    won the race: then its copy is kept). Other folders of the same kind and scope are removed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if not final.exists():  # a folder under its final name is always complete (rename is atomic)
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    prefix = final.name.rsplit("-", 1)[0] + "-"
    for old in final.parent.glob(f"{prefix}*"):
        if old != final and old.is_dir() and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)


@functools.cache
def default_ocr() -> OcrEngine | None:
    """rapidocr when the ``tools`` extra is installed (``layout_parsing`` is left out otherwise). One engine
    per process: its models load once, on first use, and it serialises its own calls."""
    if importlib.util.find_spec("rapidocr") is None or importlib.util.find_spec("onnxruntime") is None:
        log.info("rapidocr/onnxruntime not installed (pip install searchvl[tools]): no layout_parsing tool")
        return None
    return RapidOcrEngine()


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def remote_backends(settings: Settings) -> tuple[TextSearch | None, ImageSearch | None]:
    """The remote search backends ``settings`` configure, ``None`` for each one left to the local index.

    Text: ``SerperSearch`` at ``search_api_url``, reading each result page with a ``JinaReader`` at
    ``page_reader_url`` when set (else the search snippets). Image: ``LensImageSearch`` at
    ``image_search_url``. All use ``search_timeout_s``. The keys go only into request headers; the
    backends' fingerprints (part of every ``tool_calls`` key) name the endpoint, never the key, and differ
    from the local indexes', so remote and local results never share memo entries.
    """
    text: TextSearch | None = None
    image: ImageSearch | None = None
    timeout = settings.search_timeout_s
    if settings.search_api_url:
        reader = JinaReader(base_url=settings.page_reader_url, api_key=_secret(settings.page_reader_api_key) or None,
                            timeout_s=timeout) if settings.page_reader_url else None
        text = SerperSearch(_secret(settings.search_api_key), base_url=settings.search_api_url, reader=reader,
                            timeout_s=timeout)
        log.info("text_search: remote search API %s%s", settings.search_api_url,
                 f" with page reader {settings.page_reader_url}" if reader is not None else " (snippets only)")
    if settings.image_search_url:
        image = LensImageSearch(_secret(settings.image_search_api_key), endpoint=settings.image_search_url,
                                timeout_s=timeout)
        log.info("image_search: remote image search API %s", settings.image_search_url)
    return text, image


def build_tool_env(con: Connection, data_dir: Path, config: EnvConfig | None = None, *, wiki: str | None = None,
                   cache: ToolCache | Literal["warehouse"] | None = "warehouse",
                   ocr: OcrEngine | Literal["auto"] | None = "auto",
                   indexes: SearchIndexes | None = None, settings: Settings | None = None) -> ToolEnv:
    """A ``ToolEnv`` with the paper's seven tools over the warehouse's pages and images.

    Args:
        con: open warehouse connection (read-only is fine with ``cache=None`` or a read-only cache).
        data_dir: the data directory (image files; saved indexes under ``indexes/``).
        config: environment limits and tool settings (default ``EnvConfig()``).
        wiki: restrict search to one wiki (``enwiki``); None searches every ingested wiki.
        cache: ``"warehouse"`` memoises successful calls of ``config.cache_tools`` in ``tool_calls``
            through ``con`` (the caller is the single writer); a ``ToolCache`` of your own; None: none.
        ocr: ``"auto"``: rapidocr when installed, else no ``layout_parsing``; an engine; None: no OCR.
        indexes: prebuilt ``load_indexes`` output, to share the indexes between several environments
            (one ``ToolEnv`` runs one episode at a time; build one per parallel episode).
        settings: when they configure a remote search backend (``remote_backends``), it replaces the
            local index of that tool (the local indexes are still built and used for the other); ``wiki``
            does not restrict a remote backend. None: local indexes only.

    Reads: ``pages``, ``all_aliases``, ``image_refs``/``image_files``/``image_blobs``, ``tool_calls``.
    Writes: ``tool_calls`` (memo entries and hit counts) while the environment runs, when ``cache`` is
    ``"warehouse"``. Side effects: saved indexes under ``<data_dir>/indexes/``.
    """
    found = indexes or load_indexes(con, data_dir, wiki=wiki)
    remote_text, remote_image = remote_backends(settings) if settings is not None else (None, None)
    memo = WarehouseToolCache(con) if isinstance(cache, str) else cache
    engine = default_ocr() if isinstance(ocr, str) else ocr
    return ToolEnv.build(config, text_search=remote_text or found.text, image_search=remote_image or found.image,
                         ocr=engine, cache=memo)


# ---------------------------------------------------------------- one call by hand (`searchvl tool`)
@dataclass(frozen=True, slots=True)
class ProducedImage:
    """An image a tool call produced: its episode id (``img_2``, …) and PNG bytes."""

    image_id: str
    png: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class ToolRunResult:
    """The observation of one hand-run call. ``ok`` False: ``text`` is the error observation."""

    tool: str
    text: str
    ok: bool
    images: tuple[ProducedImage, ...]
    cached: bool
    elapsed_ms: float
    cache_writable: bool


def parse_tool_args(args_json: str) -> dict[str, Any]:
    """The ``--args`` JSON object. Raises ``ToolRunError`` for anything else."""
    try:
        value = json.loads(args_json)
    except json.JSONDecodeError as err:
        raise ToolRunError(f"--args is not valid JSON ({err.msg} at column {err.colno}): {args_json!r}") from err
    if not isinstance(value, dict):
        raise ToolRunError(f"--args must be a JSON object such as '{{\"q\": \"…\"}}', not {type(value).__name__}")
    return value


def read_images(paths: Sequence[Path]) -> tuple[bytes, ...]:
    """Bytes of each input image file. Raises ``ToolRunError`` for a missing or unreadable file."""
    out = []
    for p in paths:
        if not p.is_file():
            raise ToolRunError(f"image file not found: {p}")
        try:
            out.append(p.read_bytes())
        except OSError as err:
            raise ToolRunError(f"cannot read image file {p}: {err.strerror}") from err
    return tuple(out)


@contextmanager
def _warehouse(path: Path) -> Iterator[tuple[Connection, bool]]:
    """The warehouse for writing (``True``), or a read-only snapshot while another process writes."""
    if not path.exists():
        raise ToolRunError(f"no warehouse at {path}; run `searchvl ingest` (or `searchvl run`) first")
    with ExitStack() as stack:
        try:
            con, writable = stack.enter_context(db.connect(path)), True
        except WarehouseError as err:
            if "another process" not in str(err):
                raise
            log.info("warehouse is being written by another process: reading a snapshot, cache read-only")
            con, writable = stack.enter_context(db.snapshot(path)), False
        yield con, writable


def run_tool_once(data_dir: Path, name: str, image_paths: Sequence[Path], args_json: str,
                  config: EnvConfig | None = None, settings: Settings | None = None) -> ToolRunResult:
    """Run one tool call against the warehouse's indexes, through the ``tool_calls`` memo.

    The input images become ``img_1``, ``img_2``, … in order; when the tool takes one image argument
    that ``args_json`` leaves out and exactly one image is given, it is ``img_1``. The leakage guard is off
    (there is no question to protect).
    ``settings`` may configure remote search backends (see ``build_tool_env``).

    Reads: the tables ``build_tool_env`` reads. Writes: ``tool_calls`` (unless another process holds
    the warehouse: then a snapshot is read and nothing is written). Side effects: saved indexes.

    Raises:
        ToolRunError: bad ``args_json``, missing or undecodable image file, unknown tool, no warehouse.
        WarehouseError: the warehouse cannot be opened.
    """
    args = parse_tool_args(args_json)
    images = read_images(image_paths)
    cfg = config or EnvConfig(leakage_guard=False)
    if name in PURE_IMAGE_TOOLS:          # pure image operations: no warehouse, so they work anywhere
        obs = _call(ToolEnv.build(cfg), name, args, images, image_paths)
        return ToolRunResult(name, obs.content, obs.ok, _produced(obs), obs.cached, obs.elapsed_ms, True)
    with _warehouse(data_dir / "warehouse.duckdb") as (con, writable):
        cache = WarehouseToolCache(con, read_only=not writable, tool=name)
        env = build_tool_env(con, data_dir, cfg, cache=cache, settings=settings)
        obs = _call(env, name, args, images, image_paths)
    return ToolRunResult(name, obs.content, obs.ok, _produced(obs), obs.cached, obs.elapsed_ms, writable)


PURE_IMAGE_TOOLS = frozenset({"crop", "sharpen", "super_resolution", "perspective_correct"})


def _call(env: ToolEnv, name: str, args: dict[str, Any], images: tuple[bytes, ...], image_paths: Sequence[Path]
          ) -> Observation:
    tool = env.registry.get(name)
    if tool is None:
        raise ToolRunError(f"unknown tool {name!r}; available: {', '.join(env.registry.names())}")
    if len(tool.image_fields) == 1 and tool.image_fields[0] not in args and len(images) == 1:
        args = {**args, tool.image_fields[0]: "img_1"}
    start = env.reset(EpisodeItem(question="", images=images, item_id="cli"))
    if start.error is not None:
        named = ", ".join(f"img_{i} = {p}" for i, p in enumerate(image_paths, 1))
        raise ToolRunError(f"cannot use the input image ({named}): {start.content}")
    return env.call(name, args)


def _produced(obs: Observation) -> tuple[ProducedImage, ...]:
    return tuple(ProducedImage(im.id, im.data, im.width, im.height) for im in obs.images)
