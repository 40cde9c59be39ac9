"""Prefect surface of the publish stage."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from schemas.settings import Settings
from tasks.publish.hub import find_export, publisher_from_settings, read_export


@task(name="publish_export")
def publish_step(data_dir: Path, repo_id: str, export_name: str | None, private: bool) -> dict[str, str]:
    """Validate the export folder and publish it; the token comes from the environment, never a parameter.

    Retries live in the publisher (it knows which Hub errors are transient and that a retry is safe).
    """
    publisher = publisher_from_settings(Settings(), repo_id, private=private)
    export = read_export(find_export(data_dir / "export", export_name))
    result = publisher.publish(export)
    get_run_logger().info("publish %s: %s %s (%d files)", repo_id, result.status, result.commit[:12],
                          len(result.files))
    return {"status": result.status, "commit": result.commit, "url": result.url, "export": export.manifest.name,
            "export_hash": result.export_hash, "files": str(len(result.files)), "deleted": str(len(result.deleted))}
