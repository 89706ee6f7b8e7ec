# Two entry points for a fresh machine (see README):
#   make serve   set up .venv, then start the chat server (index built on first start)
#   make test    set up .venv with test extras, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Three workers on two cores, each file on one of them (its module fixtures, browser and model loads
# happen once): much of the suite's time is spent waiting on servers, browsers and subprocesses, which a
# third worker fills (fresh clone, 2 cores: 338 s with two workers, 295 s with three; 2026-12-03).
PYTEST_ARGS ?= -n 3 --dist loadfile

.PHONY: serve test print-pytest-args setup setup-test build eval clean

# The stamp files make re-runs instant and re-install only when pyproject.toml changes.
# One pip run per target (one resolver pass; setup-test installs the test extras in the same run).
# torch pinned: its CPU wheel is on this machine's disk; anything else pulls CUDA. pip's own upgrade
# pays for itself (the bundled pip resolves this set a good deal slower).
# The venv starts without pip and the base interpreter's pip puts the current one in, uncompiled
# (1.2 s instead of 4.6 s: ensurepip installs and byte-compiles the bundled pip only for it to be
# replaced). A base Python without a pip that has --python (pip >= 22.3) takes the old way.
# --no-compile, then compileall on every core: pip byte-compiles each module of each package
# serially, about a minute of CPU. Left out, and compiled on import if ever needed: transformers'
# ~2,700 model files except the auto classes and BERT (the sentence-transformers test model), the
# packages' own test suites (~2,000 files) and packages nothing here imports (networkx, graphql,
# sympy.physics): 28.8 s -> 21.3 s of CPU. A file that does not compile (some packages ship such)
# is skipped, as pip does.
define install
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile --upgrade pip \
	  || { $(BIN)/python -m ensurepip --default-pip && $(BIN)/python -m pip install --quiet --upgrade pip; }
	$(BIN)/python -m pip install --quiet --no-compile torch==2.13.0 -e '$(1)'
	$(BIN)/python -m compileall -q -q -j 0 \
	  -x 'site-packages/transformers/models/(?!(auto|bert)/)|/tests/|site-packages/(networkx|graphql|sympy/physics)/' \
	  $(VENV)/lib || true
endef

$(VENV)/.installed: pyproject.toml
	$(call install,.)
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(call install,.[test])
	touch $(VENV)/.installed $@

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
	@# printf, not echo: echo would take the leading -n of "-n 3" as its own flag.
	@printf '%s\n' '$(PYTEST_ARGS)'

eval: setup
	$(BIN)/policy-assistant eval --faq eval/faq.jsonl --faq eval/faq_holdout.jsonl --faq eval/faq_search_style.jsonl --ablation --report var/eval-report.html

clean:
	rm -rf $(VENV) index/manifest.json index/*.npy index/*.faiss index/*.json index/*.jsonl index/lexical var
