# The verbs of the project. Each target bootstraps .venv from constraints.txt when it is missing,
# so on a fresh machine with Python 3.11+ one command builds the book and one runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
NAME   ?= diffgrad
PROFILE ?= book
SEED   ?= 0

.PHONY: help venv test unit book browser chapter seeds mutations notebooks student status clean

help:
	@echo "make test                                    unit + contract tests, every chapter at 'quick' (nbval)"
	@echo "make book                                    execute every chapter at 'book' in parallel, build _build/html"
	@echo "make browser                                 check the built site in headless Chromium, and its links"
	@echo "make chapter NAME=diffgrad PROFILE=book SEED=0   run one chapter with papermill, write its report"
	@echo "make seeds NAME=diffgrad PROFILE=book SEEDS=0-4  run seeds in parallel; per claim, how many hold"
	@echo "make mutations NAME=diffgrad PROFILE=book    each wrong implementation: by how much each claim fails"
	@echo "make notebooks                               one clean .ipynb per chapter in _build/notebooks/"
	@echo "make student                                 student notebooks (solutions stubbed) in _build/student/"
	@echo "make status                                  regenerate the status page from _build/reports/"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all]"
	touch $@

# The README's test command: the library's unit tests, the chapter-contract tests and every
# chapter of the toc at the quick profile under nbval, on all cores, with a budget check.
# Kernels start with tools/ipython's start-up file, which refuses network connections.
test: venv notebooks
	STOCHLEARN_PROFILE=quick STOCHLEARN_QUIET=1 STOCHLEARN_NO_NETWORK=1 IPYTHONDIR=$(CURDIR)/tools/ipython \
	  $(PY) -m pytest -p tools.pytest_budget -n $(JOBS) --dist loadscope \
	  --ignore=tests/browser --nbval-lax tests _build/notebooks

unit: venv
	$(PY) -m pytest -n $(JOBS) --ignore=tests/browser tests

# The built site in headless Chromium (Debian's chromium; .ci/run installs it), and Sphinx's
# link check (external links are skipped: CI is offline). Run after `make book`.
browser: venv
	$(PY) -m pytest -q tests/browser
	$(VENV)/bin/jupyter-book build . --builder linkcheck --path-output _build/linkcheck -W -n --keep-going

book: venv
	$(PY) -m tools.build_book --jobs $(JOBS) $(BOOK_FLAGS)

chapter: venv
	$(PY) -m tools.run_chapter $(NAME) --profile $(PROFILE) --seed $(SEED)

SEEDS ?= 0-4
seeds: venv
	$(PY) -m tools.seeds $(NAME) --profile $(PROFILE) --seeds $(SEEDS) --jobs $(JOBS)

# The chapter as it is and with each wrong implementation of its front matter (seed 0): for every
# claim a mutation must fail, the correct value, the threshold and the mutated value.
mutations: venv
	$(PY) -m tools.mutate $(NAME) --profile $(PROFILE) --seed $(SEED) --jobs $(JOBS)

notebooks: venv
	$(PY) -m tools.notebooks

student: venv
	$(PY) -m tools.notebooks --student

status: venv
	$(PY) -m tools.status

clean:
	rm -rf _build book/_generated
