# distilrank: the table of contents. `make replicate` runs every notebook of a profile in order;
# `make test` lints and runs the test suite. Both create .venv when it is missing.
#
#   make replicate                 # the embedded default profile (Cranfield, 2-core CPU)
#   make replicate PROFILE=smoke   # tiny sizes, seconds per notebook
#   make replicate PARAMS=path/to/mine.yaml   # a profile kept anywhere (outputs/<its profile:>/)
#   make report                    # the front page, the executed notebooks as HTML, results.md (and docs/results/<profile>.md)
#   make check-report              # those pages checked: broken images, empty tables, tracebacks, misprinted numbers, aliases
#   make test
#
# A stage re-runs only when what it reads changed: its notebook, the profile sections it reads, the
# library modules it imports, the environment, or the stages whose artifacts it reads. Each executed
# notebook is written to a .partial file first, its progress redraws folded to one line per loop
# (distilrank.progress), and renamed when the run succeeded, so a killed run never leaves an
# executed notebook a later stage trusts. While it runs, the library's progress bars also write
# small events to $(OUT)/.<notebook>.live, which `distilrank.progress --follow` prints here: one
# line per training or scoring loop (what runs, steps done, time left).

SHELL := /bin/bash
# PARAMS=path names a params file kept anywhere; the profile (and so outputs/<profile>/) is its
# `profile:` key. Otherwise PROFILE names params/<PROFILE>.yaml.
ifdef PARAMS
ifeq ($(origin PROFILE),command line)
$(error give PARAMS or PROFILE, not both: with PARAMS the profile is the file's 'profile:' key)
endif
PROFILE := $(shell sed -n "s/^profile:[[:space:]]*[\"']\{0,1\}\([A-Za-z0-9_.-]*\).*/\1/p" '$(PARAMS)' 2>/dev/null | head -n 1)
$(if $(PROFILE),,$(error PARAMS=$(PARAMS): no such file, or no top-level 'profile:' key naming it with letters, digits, '.', '_' or '-'))
endif
PROFILE ?= default
OUTPUTS ?= outputs
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV_STAMP := $(VENV)/.installed
OUT := $(OUTPUTS)/$(PROFILE)
PARAMS ?= params/$(PROFILE).yaml
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED := $(patsubst notebooks/%,$(OUT)/%,$(NOTEBOOKS))
LIB := $(shell find lib -name '*.py' -not -path '*/__pycache__/*')
DEPS_SCRIPT := tools/deps.py
DEPS_MK := $(OUTPUTS)/.notebook-deps.mk
DATA := $(wildcard ../shared/data/cranfield/*)
export DISTILRANK_OUTPUTS := $(abspath $(OUTPUTS))

.PHONY: help env replicate report check-report test lint check-params clean
.DELETE_ON_ERROR:

help:
	@sed -n '2,17p' Makefile

env: $(ENV_STAMP)

$(ENV_STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -r requirements.txt -c constraints.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name distilrank --display-name "distilrank (.venv)"
	@touch $@

check-params: $(ENV_STAMP)
	@$(PY) -m distilrank.config $(PARAMS)

replicate: check-params $(EXECUTED)
	@$(PY) -m distilrank.results $(OUT)/results.json

# every executed notebook: its source and the environment ... (its figures, NN_*.png, are removed
# as it starts: a figure it no longer draws is not left for a reader to take as this run's)
$(OUT)/%.ipynb: notebooks/%.ipynb $(ENV_STAMP)
	@mkdir -p $(OUT)
	@echo "== $* [profile $(PROFILE)]"
	@start=$$(date +%s); live=$(abspath $(OUT))/.$*.live; : > $$live; n=$*; rm -f $(OUT)/figures/$${n%%_*}_*.png; \
	$(PY) -m distilrank.progress --follow $$live $* & follower=$$!; \
	DISTILRANK_PROGRESS_LOG=$$live $(PY) -m papermill $< $(OUT)/$*.partial.ipynb -f $(PARAMS) -p params_file $(abspath $(PARAMS)) -k distilrank --cwd notebooks --log-level ERROR; \
	rc=$$?; kill $$follower 2>/dev/null; wait $$follower 2>/dev/null; rm -f $$live; \
	[ $$rc -eq 0 ] \
	  && $(PY) -m distilrank.progress $(OUT)/$*.partial.ipynb \
	  && mv $(OUT)/$*.partial.ipynb $@ \
	  && echo "== $* done in $$(( $$(date +%s) - start )) s -> $@"

# ... notebook 01 also reads the embedded data ...
$(firstword $(EXECUTED)): $(DATA)

# ... and, from tools/deps.py's fragment: the lib/distilrank modules it imports (directly or through
# other modules), the profile sections it reads ($(OUT)/.params/<section>.yaml, each rewritten only
# when that section of $(PARAMS) changed), and the executed notebooks of the stages it reads (the
# notebook's metadata `distilrank.reads`). deps.py is stdlib only (the system python3, before
# .venv exists). make regenerates the fragment when a notebook or module changed, then restarts.
$(DEPS_MK): $(NOTEBOOKS) $(LIB) $(DEPS_SCRIPT)
	@mkdir -p $(@D)
	@tmp=$@.$$$$.tmp; \
	$(PYTHON) $(DEPS_SCRIPT) $(NOTEBOOKS) > $$tmp && mv $$tmp $@ || { rm -f $$tmp; exit 1; }

# goals that run no notebook do not need it (and `make help` then writes nothing)
ifneq ($(filter-out help env lint test report check-report check-params clean,$(MAKECMDGOALS)),)
include $(DEPS_MK)
ifneq ($(wildcard $(PARAMS)),)
$(shell $(PYTHON) $(DEPS_SCRIPT) --sections $(PARAMS) $(OUT)/.params $(NOTEBOOKS))
endif
endif

# every executed notebook of the profile as HTML (nbconvert) with an index page, and results.md; for
# default, gpu and paper (run from params/) also docs/results/<profile>.md, and for default README's findings
report: $(ENV_STAMP)
	@$(PY) -m distilrank.report $(PROFILE)

# the report's pages, read as HTML and in headless Chromium (distilrank.pagecheck): fails on a broken
# image, an empty table, a traceback, a front-page link to a missing section, a table cell printing
# more than 4 decimals or an integer as x.0, a p-value printed as 0.0000, or a system under two names
# (two rows with the same scores, or a claim naming a declared alias)
check-report: $(ENV_STAMP)
	@$(PY) -m distilrank.pagecheck $(PROFILE)

lint: $(ENV_STAMP)
	$(VENV)/bin/ruff check .

# pytest exits 5 when it collected no test: here that means the suite is broken, so fail loudly.
test: $(ENV_STAMP) lint
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(OUT)
