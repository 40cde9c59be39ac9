"""Issue 13 through the real stage: the online descriptor prompt sees the partly rewritten question (scripted
OpenAI-compatible server on 127.0.0.1), online descriptors that identify their entity alone are rejected, and
the offline relational chain on the small world records both invariants per step."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from schemas.run_config import QuestionsConfig
from schemas.settings import Settings
from tasks.questions.stage import question_all, text_index
from tests.factories import ingest_and_sample, small_sampling, small_world
from tests.fakes.openai_server import OpenAIServer, Reply
from warehouse.db import Connection

DESCRIPTORS = {"Rufus T. Firefly": ["the man who runs the city", "the officeholder born in 1890"],
               "Fredville": ["the seat of the government of the country"]}


def three_hop_world(con: Connection, tmp_path: Path) -> tuple[str, list[str]]:
    src, _ = small_world(tmp_path)
    ingest_and_sample(con, tmp_path, src, small_sampling(hop_probs={3: 1.0}))
    rows = con.execute("SELECT answer, list_transform(nodes, lambda n: n.title) FROM paths").fetchall()
    assert len(rows) == 1
    return str(rows[0][0]), [str(t) for t in rows[0][1]]


def scripted(answer: str, seen: list[str]) -> Any:
    def respond(messages: list[dict[str, Any]]) -> Reply:
        text = messages[-1]["content"]
        if '{"question"' in text:
            return Reply(json.dumps({"question": re.search(r"<draft>(.*?)</draft>", text, re.S).group(1)}))  # type: ignore[union-attr]
        if '{"candidates"' in text:
            seen.append(text)
            entity = re.search(r"<entity>(.*?)</entity>", text).group(1)  # type: ignore[union-attr]
            return Reply(json.dumps({"candidates": DESCRIPTORS.get(entity, ["the thing"])}))
        if '{"unique"' in text:
            return Reply(json.dumps({"unique": True, "other_candidates": []}))
        if '{"answer"' in text:
            return Reply(json.dumps({"answer": answer}))
        if '"n_consistent"' in text:
            return Reply(json.dumps({"answers": [answer], "n_consistent": 1}))
        return Reply("?", status=400)
    return respond


def test_online_propose_prompt_sees_the_partly_rewritten_question(tmp_path: Path, warehouse: Connection) -> None:
    answer, titles = three_hop_world(warehouse, tmp_path)
    assert titles == ["Freedonia", "Fredville", "Rufus T. Firefly", "Sylvania"]
    seen: list[str] = []
    # five pages: any search puts every page in the top 3, so k = 1 here and the whole-text gate is off
    cfg = QuestionsConfig(model="scripted-model", obfuscation_p=0.0, alone_k=1, chain_shortcut_gate=False)
    settings = Settings(llm_base_url="", llm_api_key=SecretStr("sk-x"), llm_timeout_s=5)
    with OpenAIServer(scripted(answer, seen)) as server:
        counts = question_all(warehouse, cfg, "run-q", tmp_path,
                              settings.model_copy(update={"llm_base_url": server.base_url}), text_index)
    # farthest bridge first: Rufus, then Fredville, whose prompt already carries Rufus's descriptor
    assert [re.search(r"<entity>(.*?)</entity>", t).group(1) for t in seen] == ["Rufus T. Firefly", "Fredville"]  # type: ignore[union-attr]
    question_for_fredville = re.search(r"<question>(.*?)</question>", seen[1], re.S).group(1)  # type: ignore[union-attr]
    assert "the man who runs the city" in question_for_fredville and "Rufus" not in question_for_fredville
    steps = warehouse.execute("SELECT entity, chosen, alone_rank FROM rewrite_steps ORDER BY step").fetchall()
    assert [s[0] for s in steps] == ["Rufus T. Firefly", "Fredville"]
    assert all(s[2] is None or s[2] > 1 for s in steps if s[1] is not None)
    assert counts[("kept", "accepted")] + sum(n for (o, _), n in counts.items() if o == "dropped") == 1


def test_offline_relational_chain_records_both_invariants(tmp_path: Path, warehouse: Connection) -> None:
    three_hop_world(warehouse, tmp_path)
    cfg = QuestionsConfig(obfuscation_p=0.0, alone_k=1, chain_shortcut_gate=False)
    question_all(warehouse, cfg, "run-q", tmp_path, Settings(), text_index)
    steps = warehouse.execute("SELECT entity, chosen, alone_rank, chain_unique FROM rewrite_steps ORDER BY step"
                              ).fetchall()
    # bridges farthest first, then the answer node's own hop; every step carries the chain verdict
    assert [s[0] for s in steps][:2] == ["Rufus T. Firefly", "Fredville"]
    assert all(s[3] in ("pass", "fail") for s in steps)
    for entity, chosen, rank, chain in steps:
        if chosen is not None:
            assert "{x}" in chosen and chain == "pass" and (rank is None or rank > 1), (entity, chosen, rank)
    item = warehouse.execute("SELECT status, question, answer_aliases FROM question_items").fetchall()
    assert len(item) == 1
    if item[0][0] == "accepted":
        assert '"' not in item[0][1] and "linked after" not in item[0][1] and "mentioned in" not in item[0][1]
