"""Run config: paper defaults, validation messages, YAML loading."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.run_config import SamplingConfig, load_run_config


def test_sampling_defaults_are_the_papers() -> None:
    cfg = SamplingConfig()
    assert cfg.hub_in_degree == 10_000
    assert (cfg.seed_min_in_degree, cfg.seed_max_in_degree) == (50, 10_000)
    assert cfg.seed_min_image_side == 512
    assert cfg.hop_probs == {2: 0.4, 3: 0.4, 4: 0.2}
    assert cfg.max_retries == 10
    assert cfg.answer_max_tokens == 6
    assert cfg.excluded_title_prefixes == ["List of", "Outline of", "Index of", "Timeline of"]


def test_demo_config_loads_and_resolves_paths() -> None:
    cfg = load_run_config(Path("flows/configs/demo.yaml"))
    src = cfg.ingest.sources[0]
    assert src.path is not None and src.path.is_absolute()
    assert src.path.name == "pages.xml.bz2"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("name: x\ningest:\n  sources: []\n", "ingest.sources: List should have at least 1 item"),
        ("name: x\ningest:\n  sources:\n    - kind: xml\n", "a xml source needs 'path'"),
        ("name: x\ningest:\n  sources:\n    - kind: ftp\n      path: a\n", "ingest.sources.0.kind"),
        ("name: x\ningest:\n  sources:\n    - {kind: xml, path: a}\nsampling:\n  hop_probs: {2: 0.5}\n",
         "hop_probs must sum to 1"),
        ("name: x\ningest:\n  sources:\n    - {kind: xml, path: a}\nsampling:\n  max_retries: 0\n",
         "sampling.max_retries"),
        ("name: x\ningest:\n  sources:\n    - {kind: xml, path: a}\nsurprise: 1\n", "surprise: Extra inputs"),
        ("name: x\ningest:\n  sources:\n    - {kind: xml, path: a}\nsampling:\n  domains: {planet: [x]}\n",
         "unknown domains ['planet']"),
        ("- just\n- a list\n", "must be a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, yaml_text: str, expected: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_run_config(f)
    assert expected in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_run_config(tmp_path / "nope.yaml")
