# The verbs of the project. Each target bootstraps .venv from constraints.txt when it is missing,
# so on a fresh machine with Python 3.11+ one command builds the book and one runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
NAME   ?= diffgrad
PROFILE ?= book
SEED   ?= 0

.PHONY: help venv test lint unit book browser linkcheck chapter seeds mutations notebooks student assignments \
        nightly-checks status clean

# The environment of every quick run: kernels start with tools/ipython's start-up file, which
# refuses network connections. TIMED records a stage's wall time for the table that ends CI's log.
QUICK := STOCHLEARN_PROFILE=quick STOCHLEARN_QUIET=1 STOCHLEARN_NO_NETWORK=1 IPYTHONDIR=$(CURDIR)/tools/ipython
TIMED  = $(PY) -m tools.ci_times run

help:
	@echo "make test                                    lint, unit + contract tests, every chapter at 'quick' (nbval)"
	@echo "make lint                                    ruff over the code and the chapters, the workflows' schema and audit"
	@echo "make book                                    execute every chapter at 'book' in parallel, build _build/html"
	@echo "make browser                                 check the built site in headless Chromium"
	@echo "make linkcheck                               Sphinx's link check of the book (nightly)"
	@echo "make chapter NAME=diffgrad PROFILE=book SEED=0   run one chapter with papermill, write its report"
	@echo "make seeds NAME=diffgrad PROFILE=book SEEDS=0-4  run seeds in parallel; per claim, how many hold"
	@echo "make mutations NAME=diffgrad PROFILE=book    each wrong implementation: by how much each claim fails"
	@echo "make notebooks                               one clean .ipynb per chapter in _build/notebooks/"
	@echo "make student                                 student notebooks (solutions stubbed) in _build/student/"
	@echo "make assignments                             nbgrader source notebooks in _build/assignments/source/"
	@echo "make nightly-checks NAME=diffgrad            the nightly's quick checks of one chapter (see the README)"
	@echo "make status                                  regenerate the status page from _build/reports/"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all]"
	touch $@

# The README's test command, in four timed stages: the lint; the library's unit tests and the
# chapter-contract tests; nbgrader grading one chapter's assignment (a stage of its own, since its
# time does not grow with the number of chapters); every chapter of the toc once at the quick profile
# under nbval, on all cores, with a budget check (tools/pytest_budget.py keeps each run for the
# nightly determinism check). Tests marked `nightly` run in `make nightly-checks` instead.
test: venv notebooks
	$(TIMED) "lint: ruff, workflows" -- $(PY) -m tools.lint
	$(TIMED) "unit and contract tests" -- env $(QUICK) $(PY) -m pytest -n $(JOBS) --dist loadscope \
	  -m "not nightly and not nbgrader" --ignore=tests/browser tests
	$(TIMED) --fixed "nbgrader grades one chapter" -- env $(QUICK) $(PY) -m pytest -q -m nbgrader \
	  tests/test_assignments.py
	$(TIMED) "chapters at quick (nbval)" -- env $(QUICK) $(PY) -m pytest -p tools.pytest_budget -n $(JOBS) \
	  --dist loadscope --nbval-lax _build/notebooks

lint: venv
	$(PY) -m tools.lint

# What the nightly workflow adds for one chapter: its nbval run, then a second quick run (the
# student notebook) for determinism and the student check, and its wrong implementations at quick.
nightly-checks: venv notebooks
	env $(QUICK) $(PY) -m pytest -p tools.pytest_budget --nbval-lax _build/notebooks/*/$(NAME).ipynb
	env $(QUICK) $(PY) -m pytest -n $(JOBS) -m nightly --chapter $(NAME) tests

unit: venv
	$(PY) -m pytest -n $(JOBS) -m "not nightly" --ignore=tests/browser tests

# The built site in headless Chromium (Debian's chromium; .ci/run installs it): pages load
# offline, figures and claims are there, every internal link resolves. Run after `make book`.
browser: venv
	$(PY) -m pytest -q tests/browser

# Sphinx's link check (external links are skipped offline); the nightly workflow runs it.
linkcheck: venv
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

assignments: venv
	$(PY) -m tools.assignments

status: venv
	$(PY) -m tools.status

clean:
	rm -rf _build book/_generated
