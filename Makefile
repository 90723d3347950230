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
RASA := RASA_TELEMETRY_ENABLED=false $(RASA_VENV)/bin/python -m rasa
RASA_MODEL := var/rasa/models/ward.tar.gz
RASA_INPUTS := config.yml domain.yml $(wildcard bot/data/*.yml bot/data/nlu/*.yml bot/components/*.py) \
	knowledge_base/text.py $(wildcard knowledge_base/data/teencode.yml knowledge_base/data/synonyms.yml \
	knowledge_base/data/follow_up_words.yml knowledge_base/data/aspect_terms.yml)
.PHONY: help run test setup corpus model index shell lock clean bench bench-dialogue rasa-model

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

# Rasa retrains only when its inputs changed (and `rasa train` itself skips an unchanged model).
$(RASA_MODEL): $(RASA_INPUTS) | $(RASA_VENV)/.installed
	$(RASA) train --domain domain.yml --data bot/data --config config.yml \
		--out $(dir $(RASA_MODEL)) --fixed-model-name $(basename $(basename $(notdir $(RASA_MODEL))))
	@touch $@

rasa-model: setup $(RASA_MODEL) ## train the Rasa assistant (NLU + dialogue) when its data changed

run: setup index $(RASA_MODEL) ## start the assistant: action server (:5055) and Rasa (:5005); Ctrl-C stops
	$(PY) -m web.stack

test: setup $(RASA_MODEL) ## run every test (SQLite, PostgreSQL when a server can be started, and the Rasa side)
	REQUIRE_RASA_STACK=1 RASA_MODEL=$(RASA_MODEL) scripts/test-postgres.sh $(PY) -m pytest -q
	RASA_MODEL=$(RASA_MODEL) scripts/test-postgres.sh scripts/test-rasa.sh

bench: index ## measure retrieval quality, speed and memory (see benchmarks/README.md)
	$(PY) -m benchmarks.retrieval

bench-dialogue: index $(RASA_MODEL) ## measure the running assistant: conversations and latency
	$(PY) -m benchmarks.dialogue quality
	$(PY) -m benchmarks.dialogue latency --concurrency 1 10

lock: ## re-pin requirements/app.lock.txt from requirements/app.in
	$(PY) -m pip install -qq -r requirements/app.in
	$(PY) -m pip freeze --exclude-editable > requirements/app.lock.txt

clean: ## remove runtime state (database, index, models) but keep the environments
	rm -rf var/
