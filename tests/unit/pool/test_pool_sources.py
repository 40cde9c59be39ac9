"""External VQA sources: parquet, JSONL, JSON and datasets folders through a column mapping; bad rows are
rejects with reasons, bad files and missing columns are typed errors naming the file and column."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from schemas.errors import ConfigError, SourceError
from schemas.pool import ColumnMap, ExternalSource, PoolConfig
from tasks.pool.sources import LoadedRow, RowReject, load_rows
from tests.factories import png_bytes


def rows_of(src: ExternalSource, lenient: bool = False) -> list[LoadedRow | RowReject]:
    return list(load_rows(src, max_image_bytes=10_000_000, max_image_pixels=50_000_000, lenient=lenient))


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_parquet_with_image_bytes_and_a_custom_mapping(tmp_path: Path) -> None:
    table = pa.table({
        "qid": ["a1", "a2"],
        "prompt": ["What breed is this dog?", "Which year was this stamp issued?"],
        "gold": [["Beagle", "beagle hound"], ["1931"]],
        "img": [png_bytes(40, 30), png_bytes(20, 20, (0, 0, 255))],
        "unused": [1, 2],
    })
    pq.write_table(table, tmp_path / "fvqa.parquet")
    src = ExternalSource(name="fvqa", path=tmp_path / "fvqa.parquet",
                         columns=ColumnMap(question="prompt", answer="gold", image="img", id="qid"))
    rows = rows_of(src)
    assert all(isinstance(r, LoadedRow) for r in rows)
    first = rows[0]
    assert isinstance(first, LoadedRow)
    assert (first.source, first.ext_id, first.answer, first.aliases) == ("fvqa", "a1", "Beagle", ("beagle hound",))
    assert first.image is not None and (first.image.width, first.image.height, first.image.format) == (40, 30, "PNG")
    assert first.image_bytes == png_bytes(40, 30)


def test_jsonl_paths_urls_and_bad_rows_become_rejects(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png_bytes(32, 32))
    (tmp_path / "imgs" / "broken.png").write_bytes(b"\x89PNG not really")
    path = write_jsonl(tmp_path / "live.jsonl", [
        {"question": "Who is on stage?", "answer": "Ray", "aliases": "Ray Charles", "image": "imgs/a.png"},
        {"question": "Where is this?", "answer": "Paris", "image": "https://example.org/x.jpg"},
        "{not json",
        {"question": "  ", "answer": "x", "image": "imgs/a.png"},
        {"question": "What is it?", "answer": None, "image": "imgs/a.png"},
        {"question": "What is it?", "answer": "y", "image": "imgs/missing.png"},
        {"question": "What is it?", "answer": "y", "image": "imgs/broken.png"},
        {"question": "What is it?", "answer": "y", "image": None},
        ["a", "list"],
    ])
    src = ExternalSource(name="livevqa", path=path, columns=ColumnMap(answer_aliases="aliases"))
    rows = rows_of(src)
    assert [r.row for r in rows] == list(range(9))
    ok = [r for r in rows if isinstance(r, LoadedRow)]
    assert ok[0].aliases == ("Ray Charles",) and ok[0].image is not None and ok[0].image_ref == "imgs/a.png"
    assert ok[1].image is None and ok[1].image_url == "https://example.org/x.jpg"      # recorded, not fetched
    reasons = [(r.row, r.reason) for r in rows if isinstance(r, RowReject)]
    assert reasons == [(2, "bad_json"), (3, "missing_question"), (4, "missing_answer"), (5, "image_file_missing"),
                       (6, "bad_image"), (7, "missing_image"), (8, "bad_json")]
    bad_image = next(r for r in rows if isinstance(r, RowReject) and r.reason == "bad_image")
    assert "not_an_image" in bad_image.detail or "corrupt" in bad_image.detail
    assert len(rows_of(src.model_copy(update={"max_rows": 3}))) == 3


def test_benchmarks_load_leniently(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bench.jsonl", [
        {"question": "Which tower is this?", "image": "nope.png"},
        {"question": "Which bridge is this?", "image": None},
    ])
    src = ExternalSource(name="simplevqa", path=path, columns=ColumnMap(answer=None))
    rows = rows_of(src, lenient=True)
    assert all(isinstance(r, LoadedRow) for r in rows)
    assert str(next(r.image_problem for r in rows if isinstance(r, LoadedRow))).startswith("image_file_missing")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_missing_mapped_column_names_the_file_and_column(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"webqa{suffix}"
    if suffix == ".jsonl":
        write_jsonl(path, [{"q": "What?", "answer": "x", "image": "a.png"}])
    else:
        pq.write_table(pa.table({"q": ["What?"], "answer": ["x"], "image": ["a.png"]}), path)
    src = ExternalSource(name="webqa", path=path)
    with pytest.raises(ConfigError, match=r"column 'question' \(columns.question\) is not in .*webqa") as err:
        rows_of(src)
    assert "['answer', 'image', 'q']" in str(err.value)


def test_optional_columns_may_be_missing_from_some_rows_but_not_all(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"question": "Who?", "answer": "x", "image": "https://e.org/1.jpg"},
                                              {"question": "Why?", "answer": "y", "image": "https://e.org/2.jpg",
                                               "alias": ["z"]}])
    rows = rows_of(ExternalSource(name="a", path=path, columns=ColumnMap(answer_aliases="alias")))
    assert [r.aliases for r in rows if isinstance(r, LoadedRow)] == [(), ("z",)]
    with pytest.raises(ConfigError, match=r"column 'aliases' \(columns.answer_aliases\)"):
        rows_of(ExternalSource(name="a", path=path, columns=ColumnMap(answer_aliases="aliases")))


def test_unreadable_files_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        rows_of(ExternalSource(name="x", path=tmp_path / "absent.jsonl"))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(SourceError, match="cannot read"):
        rows_of(ExternalSource(name="x", path=tmp_path / "junk.parquet"))
    (tmp_path / "data.csv").write_text("question,answer\n")
    with pytest.raises(ConfigError, match="format"):
        rows_of(ExternalSource(name="x", path=tmp_path / "data.csv"))
    (tmp_path / "obj.json").write_text('{"question": "q"}')
    with pytest.raises(SourceError, match="JSON array"):
        rows_of(ExternalSource(name="x", path=tmp_path / "obj.json"))


def save_to_disk(folder: Path, table: pa.Table) -> None:
    """The layout ``datasets.Dataset.save_to_disk`` writes: Arrow IPC stream shards + ``state.json``."""
    folder.mkdir(parents=True)
    with pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}))
    (folder / "dataset_info.json").write_text("{}")


def test_datasets_folder_with_image_structs_and_splits(tmp_path: Path) -> None:
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for split, n in (("train", 3), ("test", 1)):
        save_to_disk(tmp_path / "ds" / split, pa.table({
            "question": [f"{split} question {i}?" for i in range(n)],
            "answer": [f"a{i}" for i in range(n)],
            "image": pa.array([{"bytes": png_bytes(10 + i, 10), "path": None} for i in range(n)], image_type),
        }))
    (tmp_path / "ds" / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    rows = rows_of(ExternalSource(name="wikiart", path=tmp_path / "ds"))
    assert len(rows) == 4 and all(isinstance(r, LoadedRow) and r.image is not None for r in rows)
    test_only = rows_of(ExternalSource(name="wikiart", path=tmp_path / "ds", split="test"))
    assert [r.question for r in test_only if isinstance(r, LoadedRow)] == ["test question 0?"]
    with pytest.raises(ConfigError, match="split 'dev'"):
        rows_of(ExternalSource(name="wikiart", path=tmp_path / "ds", split="dev"))


def test_a_single_arrow_ipc_file(tmp_path: Path) -> None:
    table = pa.table({"question": ["Who painted this?"], "answer": ["Klimt"], "image": ["https://e.org/k.jpg"]})
    with pa.OSFile(str(tmp_path / "wikiart.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    rows = rows_of(ExternalSource(name="wikiart", path=tmp_path / "wikiart.arrow"))
    assert [(r.question, r.image_url) for r in rows if isinstance(r, LoadedRow)] == [
        ("Who painted this?", "https://e.org/k.jpg")]


def test_pool_config_validation_and_path_resolution(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        PoolConfig(sources=[ExternalSource(name="wiki", path=Path("a.jsonl"))])
    with pytest.raises(ValidationError, match="unique"):
        PoolConfig(sources=[ExternalSource(name="a", path=Path("a.jsonl"))] * 2)
    with pytest.raises(ValidationError, match="required"):
        PoolConfig(sources=[ExternalSource(name="a", path=Path("a.jsonl"), columns=ColumnMap(image=None))])
    with pytest.raises(ValidationError, match="blur_sigma"):
        PoolConfig.model_validate({"enhance": {"blur_sigma": [3.0, 1.0]}})
    cfg = PoolConfig.model_validate({"sources": [{"name": "fvqa", "path": "data/fvqa.jsonl"}],
                                     "decontam": {"benchmarks": [{"name": "b", "path": "/abs/b.parquet"}]}})
    resolved = cfg.resolved(tmp_path)
    assert resolved.sources[0].path == tmp_path / "data" / "fvqa.jsonl"
    assert resolved.decontam.benchmarks[0].path == Path("/abs/b.parquet")
    assert cfg.enhance.fraction == 0.10 and cfg.decontam.ngram == 8
