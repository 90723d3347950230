# The project's contract: `make run` starts everything from a fresh clone, `make test` runs every test.
# CI runs the same targets (.ci/run calls `make test`). Re-runs skip what is up to date.

SHELL := /bin/bash
PY311 ?= $(shell command -v python3.11 || command -v python3)
PY310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10))
VENV := .venv
RASA_VENV := .venv-rasa
PY := $(VENV)/bin/python
KB := $(PY) -m knowledge_base
# Never reach a model hub at run time: models come from packages or from var/models.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.DEFAULT_GOAL := help
.PHONY: help run test setup corpus model index shell lock clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/app.lock.txt pyproject.toml
	@test -x "$(PY)" || $(PY311) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r requirements/app.lock.txt
	$(PY) -m pip install -qq --no-deps --no-build-isolation -e .
	@touch $@

$(RASA_VENV)/.installed: requirements/rasa.lock.txt
	@test -n "$(PY310)" || { echo "Python 3.10 is needed for Rasa 3.6 (pyenv install 3.10)"; exit 1; }
	@test -x $(RASA_VENV)/bin/python || $(PY310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install -qq --upgrade pip
	$(RASA_VENV)/bin/python -m pip install -qq -r requirements/rasa.lock.txt
	@touch $@

setup: $(VENV)/.installed $(RASA_VENV)/.installed ## create both virtual environments

corpus: $(VENV)/.installed ## load or refresh the team's ward corpus into the database
	$(KB) load-corpus

model: corpus ## fine-tune the default embedding model on the stored procedures (cached)
	$(KB) train-embedder

index: model ## build the search index when the corpus or model changed
	$(KB) index

shell: index ## ask the knowledge base questions in the terminal
	$(KB) shell

run: setup index ## start the product (today: the knowledge base, in the terminal)
	@echo "The Rasa assistant and the web app are not built yet; starting the knowledge base shell."
	$(KB) shell

test: setup ## run every test (SQLite, PostgreSQL when a server can be started, and the Rasa side)
	scripts/test-postgres.sh $(PY) -m pytest -q
	scripts/test-rasa.sh

bench: index ## measure retrieval quality, speed and memory (see benchmarks/README.md)
	$(PY) -m benchmarks.retrieval

lock: ## re-pin requirements/app.lock.txt from requirements/app.in
	$(PY) -m pip install -qq -r requirements/app.in
	$(PY) -m pip freeze --exclude-editable > requirements/app.lock.txt

clean: ## remove runtime state (database, index, models) but keep the environments
	rm -rf var/
