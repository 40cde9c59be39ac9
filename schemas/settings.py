"""Environment settings: the only module that reads the environment (prefix ``SEARCHVL_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where data lives and which external endpoints to use. Construct at the edge only.

    Secrets are ``SecretStr`` so they never render in logs, reprs or rows.
    """

    model_config = SettingsConfigDict(env_prefix="SEARCHVL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="root for the warehouse, images and exports")
    workers: int = Field(default=0, ge=0, description="ingest process-pool size; 0 = number of CPUs")
    duckdb_memory_limit: str | None = Field(
        default=None, pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="cap on each warehouse connection's DuckDB memory (buffer cache and operators; beyond it "
                    "DuckDB evicts and spills to disk), e.g. 512MB; None = DuckDB's default, 80% of RAM. Set "
                    "it to a worker's share of its machine or pod")
    offline: bool = True
    debug: bool = Field(default=False, description="show tracebacks of unexpected errors")
    teacher_base_url: str | None = None
    teacher_api_key: SecretStr | None = None
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for data-construction")
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=60.0, gt=0)
    hf_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("SEARCHVL_HF_TOKEN", "HF_TOKEN"),
                                       description="Hub write token for publish (SEARCHVL_HF_TOKEN, else HF_TOKEN)")
    hub_endpoint: str | None = Field(default=None, description="Hub-compatible endpoint for publish; None = "
                                     "huggingface_hub's default (HF_ENDPOINT, else https://huggingface.co)")
    search_api_url: str | None = Field(default=None, description="Serper-style web search base URL (POST /search); "
                                       "set: text_search uses it instead of the local BM25 index")
    search_api_key: SecretStr | None = None
    page_reader_url: str | None = Field(default=None, description="Jina-style page reader prefix (GET <url><page "
                                        "url>) for the remote text search; None: search snippets only")
    page_reader_api_key: SecretStr | None = None
    image_search_url: str | None = Field(default=None, description="Lens-style reverse image search endpoint; set: "
                                         "image_search uses it instead of the local image index")
    image_search_api_key: SecretStr | None = None
    search_timeout_s: float = Field(default=15.0, gt=0, description="HTTP timeout of the remote search backends")

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def image_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def export_dir(self) -> Path:
        return self.data_dir / "export"


# Prefect settings the ``searchvl`` command applies unless the user set them: no telemetry (the CLI is
# offline by default), our loggers in Prefect's run logs, and a startup wait for the ephemeral API that
# holds on a busy two-core machine.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks,warehouse,toolenv",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def apply_prefect_defaults() -> None:
    """Set each of ``PREFECT_DEFAULTS`` in this process's environment unless already set (call before
    Prefect is imported; Prefect reads its settings from the environment)."""
    import os

    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
