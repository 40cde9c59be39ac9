"""Acceptance: every SFT row the demo (and the ZIM config) exports passes an independent grounding check.

Independent of ``tasks/synthesize/grounding.py`` on purpose (own normaliser, ``jsonschema`` for the tool
schemas, rows read back from the parquet shards):

- each path-node name (and alias) an assistant turn writes appears earlier in the question or an observation;
- the final ``\\boxed{}`` answer appears in an observation;
- every tool call (in ``conversations`` and in ``messages``) validates against the row's advertised schema.

Also measured: the share of ``<think>`` texts that are identical to another's once entity names are masked
(a template share; README reports it).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.factories import DEMO_CONFIG, exported_demo
from tests.integration.test_export import assert_split_disjoint

jsonschema = pytest.importorskip("jsonschema")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ZIM_CONFIG = ROOT / "flows/configs/zim-sample.yaml"
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_CAPS = re.compile(r"\b[A-Z][\w'’\-]*(?:\s+[A-Z][\w'’\-]*)*")
_NUMBER = re.compile(r"\d[\d,.]*")


def norm(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return " " + " ".join(re.sub(r"[^\w]+", " ", text).split()) + " "


def rows(folder: Path) -> list[dict[str, Any]]:
    return [r for f in sorted((folder / "sft").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def problems(row: dict[str, Any]) -> list[str]:
    """What in one SFT row breaks the acceptance rules (empty when none)."""
    found: list[str] = []
    path = json.loads(row["provenance"]).get("path", [])
    names = {n for node in path for n in (node["title"], *node.get("aliases", [])) if norm(n).strip()}
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in json.loads(row["tools"])}
    seen = ""
    observations: list[str] = []
    final = None
    for k, turn in enumerate(row["conversations"]):
        text = turn["value"]
        if turn["from"] in ("human", "observation"):
            seen += norm(text)
            if turn["from"] == "observation":
                observations.append(norm(text))
            continue
        said = norm(_CALL.sub(lambda m: json.dumps(json.loads(m.group(1)).get("arguments", {})), text))
        for name in names:
            if norm(name) in said and norm(name) not in seen:
                found.append(f"turn {k}: names {name!r} before any question/observation text did")
        for call in _CALL.findall(text):
            obj = json.loads(call)
            try:
                jsonschema.validate(obj["arguments"], schemas[obj["name"]])
            except (KeyError, jsonschema.ValidationError) as err:
                found.append(f"turn {k}: {obj.get('name')} {obj.get('arguments')}: {str(err).splitlines()[0]}")
        boxed = _BOXED.findall(text)
        if boxed:
            final = boxed[-1]
    if final is None:
        found.append("no boxed final answer")
    elif not any(norm(final) in o for o in observations):
        found.append(f"final answer {final!r} is in no observation")
    for m in row["messages"]:
        for call in m.get("tool_calls") or []:
            fn = call["function"]
            try:
                jsonschema.validate(json.loads(fn["arguments"]), schemas[fn["name"]])
            except (KeyError, jsonschema.ValidationError) as err:
                found.append(f"messages: {fn['name']}: {str(err).splitlines()[0]}")
    return found


def masked_thinks(rows_: list[dict[str, Any]]) -> list[str]:
    """Every assistant ``<think>`` with capitalised runs, numbers and quoted text masked."""
    out = []
    for row in rows_:
        for turn in row["conversations"]:
            if turn["from"] == "gpt":
                for think in _THINK.findall(turn["value"]):
                    masked = re.sub(r'"[^"]*"', '"…"', think)
                    out.append(_NUMBER.sub("#", _CAPS.sub("E", masked)))
    return out


def template_share(rows_: list[dict[str, Any]]) -> float:
    """Share of ``<think>`` texts identical to at least one other after masking entity names."""
    thinks = masked_thinks(rows_)
    counts = Counter(thinks)
    return sum(n for n in counts.values() if n > 1) / max(1, len(thinks))


def tools_used(rows_: list[dict[str, Any]]) -> Counter[str]:
    used: Counter[str] = Counter()
    for row in rows_:
        for turn in row["conversations"]:
            for call in _CALL.findall(turn["value"]):
                used[json.loads(call)["name"]] += 1
    return used


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return rows(exported_demo(tmp_path_factory.mktemp("demo"), DEMO_CONFIG))


def test_every_demo_sft_row_is_grounded(demo_rows: list[dict[str, Any]]) -> None:
    assert demo_rows, "the demo exports SFT rows"
    assert {r["id"]: problems(r) for r in demo_rows} == {r["id"]: [] for r in demo_rows}
    assert tools_used(demo_rows)["image_search"] >= len(demo_rows)


def test_think_texts_are_not_one_template(demo_rows: list[dict[str, Any]]) -> None:
    assert template_share(demo_rows) <= 0.6


def degraded_tools_line(folder: Path) -> str | None:
    """The card's line on the degraded subset's tools, or None when no SFT row has a degraded image."""
    card = (folder / "README.md").read_text()
    m = re.search(r"In the (\d+) SFT trajectories whose image was degraded.*?tools called: (.*?)\. The", card, re.S)
    return m.group(2) if m else None


@pytest.mark.data
def test_every_zim_sft_row_is_grounded(tmp_path: Path) -> None:
    if not ZIM_CONFIG.exists():
        pytest.skip("no ZIM config")
    folder = exported_demo(tmp_path, ZIM_CONFIG)
    assert_split_disjoint(folder)          # #15 on the ZIM export too: no entity, prefix or answer across the split
    found = rows(folder)
    assert found and {r["id"]: problems(r) for r in found} == {r["id"]: [] for r in found}
    # thumbnails are under 500 px: every trajectory upscales before its image search
    assert tools_used(found)["super_resolution"] == len(found)
    line = degraded_tools_line(folder)
    if line is not None:   # the degraded subset's rows show the image tools that repair them
        assert any(f"`{t}`" in line for t in ("sharpen", "super_resolution", "perspective_correct")), line
