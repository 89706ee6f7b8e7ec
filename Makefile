# Two entry points for a fresh machine (see README):
#   make serve   set up .venv, then start the chat server (index built on first start)
#   make test    set up .venv with test extras, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Two workers, each file on one of them (its module fixtures, browser and model loads happen once):
# most of the suite's time is spent waiting on servers, browsers and subprocesses.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: serve test print-pytest-args setup setup-test build eval clean

# The stamp files make re-runs instant and re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: its CPU wheel is on this machine's disk; anything else pulls CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

serve: setup
	$(BIN)/policy-assistant serve --host $(HOST) --port $(PORT)

build: setup
	$(BIN)/policy-assistant build

test: setup-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# scripts/test_robustness.sh runs the suite the way `make test` does.
print-pytest-args:
	@echo $(PYTEST_ARGS)

eval: setup
	$(BIN)/policy-assistant eval --faq eval/faq.jsonl --faq eval/faq_holdout.jsonl --faq eval/faq_search_style.jsonl --ablation --report var/eval-report.html

clean:
	rm -rf $(VENV) index/manifest.json index/*.npy index/*.faiss index/*.json index/*.jsonl index/lexical var
