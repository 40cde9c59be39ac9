"""Flow ``publish``: an export folder → a dataset repo on the Hugging Face Hub (or a Hub-compatible endpoint)."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from tasks.publish.steps import publish_step


@flow(name="publish")
def publish(repo_id: str, export_name: str | None = None, data_dir: Path = Path("var"),
            private: bool = False) -> dict[str, str]:
    """Publish ``<data_dir>/export/<export_name>`` (default: the newest finished export) to ``repo_id``.

    One atomic commit, or none when the Hub already holds this export (same ``export_hash``). The token and
    endpoint come from the environment (``SEARCHVL_HF_TOKEN``/``HF_TOKEN``, ``SEARCHVL_HUB_ENDPOINT``), so they
    are never flow parameters (Prefect records parameters).
    """
    return publish_step(data_dir, repo_id, export_name, private)
