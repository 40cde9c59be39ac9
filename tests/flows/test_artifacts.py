"""The demo's Prefect flow run carries its artifacts (funnel table, rejects by reason, the export as a link and
a card summary), read back through the Prefect client."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.run import run
from schemas.run_config import load_run_config

pytestmark = pytest.mark.slow
DEMO = Path(__file__).resolve().parents[2] / "flows" / "configs" / "demo.yaml"


def test_demo_run_publishes_funnel_rejects_and_export_artifacts(prefect_api: None, tmp_path: Path) -> None:
    cfg = load_run_config(DEMO)
    state = run(cfg, tmp_path / "var", 1, "run-artifacts", return_state=True)
    assert state.is_completed(), state.message
    flow_run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    by_key = {a.key: a for a in found}
    assert {"funnel", "rejects-by-reason", "export", "export-card"} <= set(by_key)
    assert by_key["funnel"].type == "table" and by_key["rejects-by-reason"].type == "table"
    assert "ingest" in str(by_key["funnel"].data) and "sample_paths" in str(by_key["rejects-by-reason"].data)
    assert "export/demo-" in str(by_key["export"].data)          # a link artifact (Prefect stores it as markdown)
    assert by_key["export-card"].type == "markdown" and "# Export `demo-" in str(by_key["export-card"].data)
