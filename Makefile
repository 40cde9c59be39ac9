# The two commands: `make demo` (main job on the bundled corpus) and `make test` (the suite).
# Both create .venv and install the pinned dependencies when needed (requirements.lock
# constrains every transitive version).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,tools,train,embed
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock 2>/dev/null | sha256sum | cut -c1-12)-$(subst $(comma),_,$(EXTRAS))
comma := ,
export HF_HUB_OFFLINE := 1
export PREFECT_LOGGING_EXTRA_LOGGERS := tasks,warehouse,toolenv
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW := ignore

.PHONY: install demo train-demo test test-fast test-slow test-gpu quality bench lock clean

# The stamp's name carries the hash of pyproject.toml + requirements.lock, so no mtime prerequisites: a fresh
# clone beside an existing venv (VENV=...) does not reinstall.
$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned dependencies into $(VENV) (first time: a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -e ".[$(EXTRAS)]" -c requirements.lock
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/searchvl run --config flows/configs/demo.yaml
	@echo
	@echo "Next (the README's command line section): put searchvl on your PATH, then look inside:"
	@echo "  source $(VENV)/bin/activate"
	@echo "  searchvl inspect funnel                 # every stage: kept / dropped by reason"
	@echo "  searchvl inspect rejects                # every dropped unit with its reason"
	@echo "  searchvl inspect query vqa_provenance   # every accepted item, where it came from"

# The CPU training chain on the demo export (run `make demo` first): SFT on the sft shards, then
# fatal-aware GRPO from the SFT checkpoint on the rl shards (tiny model; minutes on 2 cores).
train-demo: install
	$(VENV)/bin/searchvl train --recipe training/recipes/tiny-cpu-sft.yaml
	$(VENV)/bin/searchvl train --recipe training/recipes/tiny-cpu.yaml

quality: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/docker-compose --env-file /dev/null config -q
	$(VENV)/bin/docker-compose --env-file /dev/null --profile gpu --profile model-server config -q

test: quality
	$(PY) -m pytest -n 2 --dist loadfile -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not data"

test-slow: install
	$(PY) -m pytest -q -m slow

test-gpu: install
	$(PY) -m pytest -q -m gpu -p no:cacheprovider

# Speed against named baselines (results in BENCHMARKS.md); each prints one JSON line last.
bench: install
	$(PY) -m benchmarks.ingest
	$(PY) -m benchmarks.paths
	$(PY) -m benchmarks.tools
	$(PY) -m benchmarks.text_search
	$(PY) -m benchmarks.teacher_concurrency
	$(PY) -m benchmarks.export
	mkdir -p var && $(PY) -m benchmarks.sharding > var/bench-sharding.txt && tail -n 14 var/bench-sharding.txt
	$(PY) -m benchmarks.projection --sharding-result var/bench-sharding.txt
	$(PY) -m benchmarks.scale
	$(PY) -m benchmarks.grpo_overhead
	$(PY) -m benchmarks.grpo_throughput

# Re-pin every transitive dependency from the current environment.
lock: install
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | grep -v '^-e' > requirements.lock

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
