"""Load external VQA rows (LiveVQA, FVQA, WebQA, benchmarks…) from local files through a column mapping.

Formats: parquet (a file or a folder of ``*.parquet``), JSONL, a JSON array, and a ``datasets``
``save_to_disk`` folder, whose ``*.arrow`` files are Arrow IPC streams read here with pyarrow (the
``datasets`` package is not a dependency). Rows stream in batches; only the mapped columns are read.

A file that cannot be read, or lacks a mapped column, is systemic: ``SourceError`` / ``ConfigError``
naming the file and the column. A bad *row* (no question, no answer, an image that does not decode, a
JSON line that does not parse) comes back as a ``RowReject`` with a reason, never an exception.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.errors import ConfigError, SourceError
from schemas.pool import ExternalSource
from tasks.ingest.images import DecodedImage, ImageProblem, inspect_image

BATCH_ROWS = 256
_FIELDS = ("question", "answer", "answer_aliases", "image", "id")


@dataclass(frozen=True, slots=True)
class LoadedRow:
    """One mapped row. ``image`` and ``image_bytes`` are set for local images (bytes or a path);
    ``image_url`` for a URL, which is never fetched."""

    source: str
    row: int
    ext_id: str | None
    question: str
    answer: str | None
    aliases: tuple[str, ...]
    image: DecodedImage | None
    image_bytes: bytes | None
    image_url: str | None
    image_ref: str | None         # the path or URL as written in the file
    image_problem: str | None = None   # lenient (benchmark) loading: why a present image was not used


@dataclass(frozen=True, slots=True)
class RowReject:
    source: str
    row: int
    ext_id: str | None
    reason: str   # bad_json | missing_question | missing_answer | missing_image | image_file_missing | bad_image
    detail: str


def _mapped(src: ExternalSource) -> dict[str, str]:
    """``field → column`` for the mapped fields."""
    cols = src.columns
    return {f: c for f in _FIELDS if (c := getattr(cols, f)) is not None}


_OPTIONAL = ("answer_aliases", "id")


def _check_columns(src: ExternalSource, where: Path, available: list[str], fields: tuple[str, ...] = _FIELDS) -> None:
    for field, col in _mapped(src).items():
        if field in fields and col not in available:
            raise ConfigError(f"source {src.name!r}: column {col!r} (columns.{field}) is not in {where}; "
                              f"its columns are {sorted(available)}")


def _detect(path: Path) -> str:
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            return "arrow"
        if any(path.glob("*.parquet")):
            return "parquet"
        raise SourceError(f"{path}: a folder needs a datasets save_to_disk layout or *.parquet files")
    kinds = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
             ".arrow": "arrow"}
    if path.suffix.lower() not in kinds:
        raise ConfigError(f"cannot tell the format of {path} from its extension; set format: parquet|jsonl|json|arrow")
    return kinds[path.suffix.lower()]


def _arrow_files(src: ExternalSource, folder: Path) -> list[Path]:
    """The Arrow files of a ``save_to_disk`` Dataset or DatasetDict folder (or one ``.arrow`` file)."""
    if folder.is_file():
        return [folder]
    try:
        if (folder / "dataset_dict.json").exists():
            splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
            if src.split is not None and src.split not in splits:
                raise ConfigError(f"source {src.name!r}: split {src.split!r} not in {folder} (splits: {splits})")
            chosen = [src.split] if src.split is not None else splits
            return [f for s in chosen for f in _arrow_files(src, folder / str(s))]
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        return [folder / str(f["filename"]) for f in state["_data_files"]]
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise SourceError(f"{folder}: not a readable datasets save_to_disk folder ({err})") from err


def _arrow_batches(path: Path) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """Column names and batches of an Arrow IPC stream (what ``datasets`` writes) or IPC file."""
    source = pa.memory_map(str(path))
    try:
        stream = pa.ipc.open_stream(source)
        return stream.schema.names, iter(stream)
    except pa.ArrowInvalid:
        source.seek(0)
        file = pa.ipc.open_file(source)
        return file.schema.names, (file.get_batch(i) for i in range(file.num_record_batches))


def _table_rows(src: ExternalSource, fmt: str) -> Iterator[dict[str, Any]]:
    """Rows of the mapped columns of a parquet or Arrow source, batch by batch."""
    files = (sorted(src.path.glob("*.parquet")) if src.path.is_dir() else [src.path]) if fmt == "parquet" \
        else _arrow_files(src, src.path)
    wanted = list(dict.fromkeys(_mapped(src).values()))
    for f in files:
        try:
            if fmt == "parquet":
                pf = pq.ParquetFile(f)
                _check_columns(src, f, pf.schema_arrow.names)
                batches: Iterator[pa.RecordBatch] = pf.iter_batches(batch_size=BATCH_ROWS, columns=wanted)
            else:
                names, raw = _arrow_batches(f)
                _check_columns(src, f, names)
                batches = (b.select(wanted) for b in raw)
            for batch in batches:
                yield from batch.to_pylist()
        except (OSError, pa.ArrowException) as err:
            raise SourceError(f"source {src.name!r}: cannot read {f}: {err}") from err


def _json_rows(src: ExternalSource, fmt: str) -> Iterator[dict[str, Any] | RowReject]:
    """Rows of a JSONL file (a bad line is a reject) or a JSON array. The first object must have the
    required mapped keys; an optional one (aliases, id) may be absent from some rows, not from all."""
    checked = False
    seen: set[str] = set()
    try:
        if fmt == "json":
            data = json.loads(src.path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise SourceError(f"source {src.name!r}: {src.path} must hold a JSON array of objects")
            lines: Iterator[Any] = iter(data)
        else:
            lines = _parsed_lines(src)
        for n, obj in enumerate(lines):
            if isinstance(obj, RowReject):
                yield obj
            elif not isinstance(obj, dict):
                yield RowReject(src.name, n, None, "bad_json", f"row is a {type(obj).__name__}, not an object")
            else:
                if not checked:
                    _check_columns(src, src.path, list(obj), tuple(f for f in _FIELDS if f not in _OPTIONAL))
                    checked = True
                seen.update(obj)
                yield obj
        if checked:
            _check_columns(src, src.path, sorted(seen), _OPTIONAL)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SourceError(f"source {src.name!r}: cannot read {src.path}: {err}") from err


def _parsed_lines(src: ExternalSource) -> Iterator[Any]:
    with src.path.open(encoding="utf-8") as fh:
        n = -1
        for line in fh:
            if not line.strip():
                continue
            n += 1
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                yield RowReject(src.name, n, None, "bad_json", f"line {n + 1}: {err.msg} at column {err.colno}")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (bytes, dict)):
        return None
    if isinstance(value, list):
        return _text(value[0]) if value else None
    text = str(value).strip()
    return text or None


def _aliases(answer_value: Any, alias_value: Any, answer: str | None) -> tuple[str, ...]:
    """Extra answers of a list-valued answer plus the alias column (list, JSON list text, or one alias)."""
    extra: list[Any] = list(answer_value[1:]) if isinstance(answer_value, list) else []
    if isinstance(alias_value, str) and alias_value.strip().startswith("["):
        with contextlib.suppress(json.JSONDecodeError):
            alias_value = json.loads(alias_value)
    extra += alias_value if isinstance(alias_value, list) else [alias_value]
    texts = (_text(a) for a in extra)
    return tuple(dict.fromkeys(t for t in texts if t is not None and t != answer))


@dataclass(frozen=True, slots=True)
class _Problem:
    reason: str
    detail: str


def _image(src: ExternalSource, value: Any, base: Path, limits: tuple[int, int]
           ) -> tuple[bytes | None, str | None, str | None] | _Problem:
    """``(bytes, url, ref)`` for an image cell, or the problem when it cannot be used."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):                                  # datasets Image struct {bytes, path}
        value = value.get("bytes") or value.get("path")
    if value is None or value == "" or value == b"":
        return _Problem("missing_image", "no image in the mapped column")
    kind = src.image_kind
    if kind == "auto":
        kind = "bytes" if isinstance(value, bytes) else "url" if str(value).startswith(("http://", "https://")) \
            else "path"
    if kind == "bytes":
        return (value, None, None) if isinstance(value, bytes) else _Problem("bad_image", "cell is text, not bytes")
    ref = str(value)
    if kind == "url":
        return None, ref, ref
    path = Path(ref) if Path(ref).is_absolute() else base / ref
    try:
        if path.stat().st_size > limits[0]:
            return _Problem("bad_image", f"too_large: {path} has {path.stat().st_size} bytes > limit {limits[0]}")
        return path.read_bytes(), None, ref
    except OSError as err:
        return _Problem("image_file_missing", f"{path}: {err.strerror}")


def _row(src: ExternalSource, n: int, raw: dict[str, Any], base: Path, limits: tuple[int, int], lenient: bool
         ) -> LoadedRow | RowReject:
    cols = src.columns
    ext_id = _text(raw.get(cols.id)) if cols.id else None
    question = _text(raw.get(cols.question))
    if question is None:
        return RowReject(src.name, n, ext_id, "missing_question", f"no text in column {cols.question!r}")
    answer_value = raw.get(cols.answer) if cols.answer else None
    answer = _text(answer_value)
    if cols.answer and answer is None and not lenient:
        return RowReject(src.name, n, ext_id, "missing_answer", f"no text in column {cols.answer!r}")
    aliases = _aliases(answer_value, raw.get(cols.answer_aliases) if cols.answer_aliases else None, answer)
    if cols.image is None:
        return LoadedRow(src.name, n, ext_id, question, answer, aliases, None, None, None, None)
    got = _image(src, raw.get(cols.image), base, limits)
    if isinstance(got, _Problem):
        if lenient:
            return LoadedRow(src.name, n, ext_id, question, answer, aliases, None, None, None, None,
                             None if got.reason == "missing_image" else f"{got.reason}: {got.detail}")
        return RowReject(src.name, n, ext_id, got.reason, got.detail)
    data, url, ref = got
    if data is None:
        return LoadedRow(src.name, n, ext_id, question, answer, aliases, None, None, url, ref)
    decoded = inspect_image(data, max_bytes=limits[0], max_pixels=limits[1])
    if isinstance(decoded, ImageProblem):
        if lenient:
            return LoadedRow(src.name, n, ext_id, question, answer, aliases, None, None, None, ref,
                             f"bad_image: {decoded.reason}: {decoded.detail}")
        return RowReject(src.name, n, ext_id, "bad_image", f"{decoded.reason}: {decoded.detail}")
    return LoadedRow(src.name, n, ext_id, question, answer, aliases, decoded, data, None, ref)


def load_rows(src: ExternalSource, *, max_image_bytes: int, max_image_pixels: int, lenient: bool = False
              ) -> Iterator[LoadedRow | RowReject]:
    """Stream the source's rows (at most ``max_rows``) through its column mapping, in file order.

    ``lenient`` (benchmarks): a row needs only its question; a missing answer or an unusable image is
    left empty (the image's problem in ``image_problem``) instead of rejecting the row.

    Raises:
        ConfigError: a mapped column is missing, the format cannot be told, or an unknown split.
        SourceError: the file or folder does not exist or cannot be read.
    """
    if not src.path.exists():
        raise SourceError(f"source {src.name!r}: {src.path} does not exist")
    fmt = _detect(src.path) if src.format == "auto" else src.format
    base = src.path if src.path.is_dir() else src.path.parent
    rows: Iterator[dict[str, Any] | RowReject] = (
        _json_rows(src, fmt) if fmt in ("json", "jsonl") else _table_rows(src, fmt))
    limits = (max_image_bytes, max_image_pixels)
    for n, raw in enumerate(rows):
        if src.max_rows is not None and n >= src.max_rows:
            return
        yield raw if isinstance(raw, RowReject) else _row(src, n, raw, base, limits, lenient)
