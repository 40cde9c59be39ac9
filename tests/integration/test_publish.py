"""Publish round-trip against a Hub-compatible server on 127.0.0.1 (tests/fakes/hub_server.py).

The real ``huggingface_hub`` client uploads, the real ``datasets.load_dataset`` (in a subprocess, because
huggingface_hub reads ``HF_ENDPOINT`` at import time) reads the result back. The conftest sets
``HF_HUB_OFFLINE=1`` for every test; the ``online`` fixture lifts it here, where the client must reach the
local server.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants
import pyarrow.parquet as pq
import pytest
from PIL import Image as PILImage
from pydantic import SecretStr
from typer.testing import CliRunner

from flows.cli import app
from schemas.shards import ExportManifest, ShardFile
from tasks.publish.hub import ExportFolderError, HfHubPublisher, PublishError, find_export, read_export
from tests.factories import exported_demo
from tests.fakes.hub_server import HubServer

TOKEN = "hf_searchvlTESTtoken0123456789abcdef"
REPO = "searchvl/demo"
runner = CliRunner()

CARD = """---
license: cc-by-sa-4.0
configs:
- config_name: sft
  data_files:
  - split: train
    path: sft/train-*.parquet
- config_name: rl
  data_files:
  - split: train
    path: rl/train-*.parquet
  - split: validation
    path: rl/validation-*.parquet
---
# searchvl demo export
"""


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (8 + seed, 6), (seed * 40 % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


def _write_parquet(path: Path, rows: list[dict[str, object]]) -> None:
    from datasets import Dataset, Image, Sequence

    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows).cast_column("images", Sequence(Image())).to_parquet(str(path))


def make_export(root: Path, name: str = "demo", *, export_hash: str = "hash-1", sft_rows: int = 3) -> Path:
    """A small export folder in the layout of ``schemas.shards`` (two configs, Image features, manifest)."""
    folder = root / "export" / name
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(CARD)
    (folder / "plots").mkdir()
    (folder / "plots" / "hops.png").write_bytes(_png(9))
    sft = [{"id": f"t{i}", "item_id": f"i{i}", "images": [{"bytes": _png(i), "path": f"img{i}.png"}],
            "messages": json.dumps([{"role": "user", "content": "<image> who?"}]), "answer": f"answer {i}",
            "tool_calls": i, "source": "wiki", "provenance": json.dumps({"item_id": f"i{i}"})} for i in range(sft_rows)]
    rl = [{"id": f"r{i}", "question": f"q{i}", "images": [{"bytes": _png(i + 3), "path": None}], "answer": f"a{i}",
           "answer_aliases": [f"alias {i}"], "source": "wiki", "split": split, "provenance": "{}"}
          for i, split in enumerate(["train", "train", "validation"])]
    shards = {("sft", "train"): sft, ("rl", "train"): rl[:2], ("rl", "validation"): rl[2:]}
    files = []
    for (config, split), rows in shards.items():
        rel = f"{config}/{split}-00000-of-00001.parquet"
        _write_parquet(folder / rel, rows)
        files.append(ShardFile(config=config, split=split, path=rel, rows=len(rows),  # type: ignore[arg-type]
                               sha256=hashlib.sha256((folder / rel).read_bytes()).hexdigest()))
    manifest = ExportManifest(name=name, run_id="run-test", export_hash=export_hash, sft_rows=len(sft),
                              rl_rows={"train": 2, "validation": 1}, files=files, offline_fallbacks=[],
                              created_at="2025-01-01T00:00:00Z")
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    return folder


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let huggingface_hub reach the local server; nothing of the developer's HF setup leaks in."""
    for key in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT", "HF_HUB_DISABLE_XET"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub(online: None) -> Iterator[HubServer]:
    with HubServer(tokens={TOKEN}) as server:
        yield server


def _publisher(hub: HubServer, token: str = TOKEN, **kw: object) -> HfHubPublisher:
    return HfHubPublisher(REPO, SecretStr(token), endpoint=hub.url, backoff_s=0, **kw)  # type: ignore[arg-type]


def _load_back(hub: HubServer, tmp_path: Path) -> dict[str, object]:
    """``datasets.load_dataset`` of both configs in a fresh process pointed at the local server."""
    script = """
import json, sys
from datasets import load_dataset
out = {}
for config in ("sft", "rl"):
    dd = load_dataset(sys.argv[1], config)
    for split, ds in dd.items():
        imgs = [im for row in ds for im in row["images"]]
        out[f"{config}/{split}"] = {"rows": ds.num_rows, "types": sorted({type(im).__module__ for im in imgs}),
                                    "ids": list(ds["id"])}
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "SEARCHVL_"))}
    env |= {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    proc = subprocess.run([sys.executable, "-c", script, REPO], env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _grep_token(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_round_trip_then_republish_is_a_no_op(hub: HubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    """The acceptance test: the real pipeline's export of the bundled corpus goes up, comes back through
    ``load_dataset`` with PIL images, and a second publish makes no commit; the token is nowhere."""
    caplog.set_level(logging.DEBUG)
    folder = exported_demo(tmp_path)
    export = read_export(folder)

    first = _publisher(hub).publish(export)
    assert first.status == "committed"
    commits = hub.commits(REPO)
    assert commits[0].summary == "initial commit" and len(commits) == 2
    assert commits[-1].oid == first.commit
    assert set(commits[-1].files) == {".gitattributes", *export.files}
    for shard in export.manifest.files:                                   # shards went up as LFS objects, intact
        blob = commits[-1].files[shard.path]
        assert blob.lfs and blob.sha256 == shard.sha256

    back = _load_back(hub, tmp_path)
    expected = {f"{f.config}/{f.split}": f for f in export.manifest.files}
    assert {k: v["rows"] for k, v in back.items()} == {k: f.rows for k, f in expected.items()}
    for key, got in back.items():
        assert got["types"] and all(t.startswith("PIL.") for t in got["types"]), got["types"]
        assert got["ids"] == pq.read_table(folder / expected[key].path, columns=["id"]).column("id").to_pylist()

    again = _publisher(hub).publish(read_export(folder))
    assert again.status == "unchanged" and again.commit == first.commit
    assert len(hub.commits(REPO)) == 2                                      # no new commit
    assert not any(r.method == "POST" and ("/commit/" in r.path or "/preupload/" in r.path) for r in hub.log[-6:])

    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text + out + err
    assert not _grep_token(tmp_path)                                       # data dir, export folder, HF cache
    assert hub.token_leaks == []


def test_new_export_replaces_stale_shards_in_one_commit(hub: HubServer, tmp_path: Path) -> None:
    _publisher(hub).publish(read_export(make_export(tmp_path / "a")))
    first = hub.commits(REPO)[-1]
    assert "sft/train-00000-of-00001.parquet" in first.files
    folder = make_export(tmp_path / "b", export_hash="hash-2", sft_rows=2)
    (folder / "sft" / "train-00000-of-00001.parquet").rename(folder / "sft" / "train-00000-of-00002.parquet")
    manifest = ExportManifest.model_validate_json((folder / "manifest.json").read_text())
    files = [f.model_copy(update={"path": f.path.replace("00000-of-00001", "00000-of-00002")})
             if f.config == "sft" else f for f in manifest.files]
    (folder / "manifest.json").write_text(manifest.model_copy(update={"files": files}).model_dump_json())

    res = _publisher(hub).publish(read_export(folder))
    assert res.status == "committed" and res.deleted == ("sft/train-00000-of-00001.parquet",)
    head = hub.commits(REPO)[-1]
    assert len(hub.commits(REPO)) == 3
    assert "sft/train-00000-of-00001.parquet" not in head.files and "sft/train-00000-of-00002.parquet" in head.files


def test_failed_commit_leaves_no_revision_and_retry_makes_exactly_one(hub: HubServer, tmp_path: Path) -> None:
    export = read_export(make_export(tmp_path))
    hub.fail_next_commits = 1
    with pytest.raises(PublishError, match=r"the Hub answered 500 for searchvl/demo") as exc:
        _publisher(hub, attempts=1).publish(export)
    assert TOKEN not in str(exc.value) and "\n" not in str(exc.value)
    assert [c.summary for c in hub.commits(REPO)] == ["initial commit"]  # LFS objects uploaded, no revision

    res = _publisher(hub).publish(read_export(export.root))
    assert res.status == "committed"
    assert len(hub.commits(REPO)) == 2


def test_transient_failures_are_retried_within_one_publish(hub: HubServer, tmp_path: Path) -> None:
    hub.fail_next_commits = 2          # two 500s on the commit
    hub.drop_next_uploads = 1          # and one LFS PUT cut off mid-upload
    sleeps: list[float] = []
    res = _publisher(hub, attempts=4, sleep=sleeps.append, private=True).publish(read_export(make_export(tmp_path)))
    assert res.status == "committed"
    assert len(hub.commits(REPO)) == 2 and len(sleeps) == 2 and hub.repos[REPO].private
    assert any(r.method == "PUT" and r.status == 0 for r in hub.log)


def test_bad_token_and_unreachable_hub_are_one_line_errors(hub: HubServer, tmp_path: Path) -> None:
    export = read_export(make_export(tmp_path))
    with pytest.raises(PublishError, match=r"rejected the token .*401") as exc:
        _publisher(hub, token="hf_wrong_token_value").publish(export)
    assert "hf_wrong_token_value" not in str(exc.value) and "\n" not in str(exc.value)
    assert REPO not in hub.repos

    dead = HfHubPublisher(REPO, SecretStr(TOKEN), endpoint="http://127.0.0.1:9", attempts=2, backoff_s=0)
    with pytest.raises(PublishError, match=r"cannot reach the Hub at http://127.0.0.1:9 \(after 2 attempts\)"):
        dead.publish(export)


def test_offline_mode_and_xet_choice(hub: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    export = read_export(make_export(tmp_path))
    xet_switch = huggingface_hub.constants.HF_HUB_DISABLE_XET
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PublishError, match=r"offline mode \(HF_HUB_OFFLINE is set\)"):
        _publisher(hub, attempts=3).publish(export)
    assert hub.log == []                                                   # not retried, nothing sent
    assert HfHubPublisher(REPO, SecretStr(TOKEN), endpoint="https://huggingface.co").xet
    assert not _publisher(hub).xet
    assert huggingface_hub.constants.HF_HUB_DISABLE_XET is xet_switch     # the switch is restored after a publish


def test_export_folder_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ExportFolderError, match="no export under"):
        find_export(tmp_path / "export", None)
    with pytest.raises(ExportFolderError, match="no export folder at"):
        read_export(find_export(tmp_path / "export", "missing"))
    folder = make_export(tmp_path)
    shard = folder / "rl" / "train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes() + b"x")
    with pytest.raises(ExportFolderError, match=r"rl/train-00000-of-00001\.parquet does not match its sha256"):
        read_export(folder)
    shard.unlink()
    with pytest.raises(ExportFolderError, match="is missing"):
        read_export(folder)
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(ExportFolderError, match="not a valid export manifest"):
        read_export(folder)


def test_an_export_whose_card_holds_a_local_path_is_refused(tmp_path: Path) -> None:
    folder = make_export(tmp_path)
    (folder / "README.md").write_text(CARD + f"\n```json\n{{\"path\": \"{tmp_path}/corpus/pages.xml\"}}\n```\n")
    with pytest.raises(ExportFolderError, match=r"README\.md holds an absolute local path .*re-export"):
        read_export(folder)
    (folder / "README.md").write_text(CARD + "\nSee https://en.wikipedia.org/wiki/Ray_Charles and <data_dir>/export.\n")
    assert read_export(folder).manifest.name == "demo"


def test_newest_export_is_the_default(tmp_path: Path) -> None:
    old = make_export(tmp_path, "old")
    new = make_export(tmp_path, "new")
    os.utime(old / "manifest.json", (1, 1))
    assert find_export(tmp_path / "export", None) == new


def test_cli_without_token_fails_fast(online: None, tmp_path: Path) -> None:
    make_export(tmp_path)
    res = runner.invoke(app, ["publish", "--repo-id", REPO, "--data-dir", str(tmp_path)])
    assert res.exit_code == 1
    assert "needs a Hub write token: set SEARCHVL_HF_TOKEN" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_cli_missing_export_is_a_clear_error(online: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEARCHVL_HF_TOKEN", TOKEN)
    res = runner.invoke(app, ["publish", "--repo-id", REPO, "--data-dir", str(tmp_path), "--export", "nope"])
    assert res.exit_code == 1
    assert "no export folder at" in res.output and TOKEN not in res.output


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    """A real Prefect API for the flow run behind the CLI (one per module; kept to the CLI tests)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.slow
def test_cli_publish_round_trip_and_bad_token(prefect_api: None, hub: HubServer, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                              capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "var"
    make_export(data_dir, "older", export_hash="hash-0")
    os.utime(data_dir / "export" / "older" / "manifest.json", (1, 1))
    make_export(data_dir, "demo")
    monkeypatch.setenv("SEARCHVL_HUB_ENDPOINT", hub.url)
    args = ["publish", "--repo-id", REPO, "--data-dir", str(data_dir)]

    monkeypatch.setenv("HF_TOKEN", "hf_not_a_valid_token")
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: the Hub rejected the token for {REPO} at {hub.url} (401 Unauthorized): set "
                      "SEARCHVL_HF_TOKEN or HF_TOKEN to a valid write token"]
    assert "hf_not_a_valid_token" not in res.output + caplog.text

    monkeypatch.setenv("SEARCHVL_HF_TOKEN", TOKEN)            # wins over HF_TOKEN
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert f"published demo → {hub.url}/datasets/{REPO}" in res.output
    assert json.loads(hub.commits(REPO)[-1].files["manifest.json"].data)["export_hash"] == "hash-1"
    res = runner.invoke(app, [*args, "--export", "demo"])
    assert res.exit_code == 0, res.output
    assert "unchanged, no commit" in res.output
    assert len(hub.commits(REPO)) == 2

    out, err = capfd.readouterr()
    assert TOKEN not in res.output + caplog.text + out + err
    assert not _grep_token(tmp_path)
    assert hub.token_leaks == []
