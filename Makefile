# One command each for the main job and the whole test suite; both set
# themselves up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make run` installs only what the demo needs: sgibridge's runtime dependencies, Flask and
# Uvicorn, with a stamp of its own (`make test` still installs the full dev set).
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run test lint typecheck pytest docs test-all bench bench-quick bench-ab fuzz soak compat clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A new venv is made without pip (ensurepip alone takes ~10 s) and filled by this Python's
# own pip (`pip --python`, pip >= 22.3); failing that, pip is bootstrapped into the venv.
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	if $(BIN)/python -m pip --version >/dev/null 2>&1; then pip="$(BIN)/python -m pip"; \
	elif $(PYTHON) -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; then \
	  pip="$(PYTHON) -m pip --python $(BIN)/python"; \
	else $(BIN)/python -m ensurepip --upgrade >/dev/null && pip="$(BIN)/python -m pip"; fi; \
	$$pip install --quiet --disable-pip-version-check --no-compile -e '.[uvicorn]' 'flask>=3'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib src >/dev/null  # on all cores, not pip's one
	touch $(RUN_STAMP)

## Serve examples/flask_app.py on Uvicorn through WSGIToASGI at 127.0.0.1:8000.
run: $(RUN_STAMP)
	$(BIN)/sgibridge serve examples.flask_app:app --host 127.0.0.1 --port 8000

## Lint, type-check, run the full suite with the coverage gate, and build the docs.
test: lint typecheck pytest docs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

# The translation core, held to 100% branch coverage: the front door
# (_translate.py) and every module it re-exports from.
CORE_MODULES := '*/sgibridge/_translate.py,*/sgibridge/_strings.py,*/sgibridge/_canned.py,*/sgibridge/_status.py,*/sgibridge/_paths.py,*/sgibridge/_response_headers.py,*/sgibridge/_scope_to_environ.py,*/sgibridge/_environ_headers.py,*/sgibridge/_environ_to_scope.py'

pytest: $(STAMP)
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --include=$(CORE_MODULES) --fail-under=100
	$(BIN)/python -m coverage report

## The docs site (mkdocs, Material, API reference from docstrings) into build/site;
## --strict makes a broken link, anchor or reference fail the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## The test suite on each of Python 3.10-3.13 that is installed (nox; see noxfile.py).
## One version: make test-all NOX_ARGS="-s tests-3.13".
test-all: $(STAMP)
	$(BIN)/nox $(NOX_ARGS)

## Benchmarks against the peer adapters, in their own environment (.venv-bench):
## ratios to the best peer and to the no-adapter ceiling, as JSON, Markdown
## and a chart in benchmarks/results/.
bench-quick:
	bash benchmarks/setup.sh
	.venv-bench/bin/python -m benchmarks.run --quick

bench:
	bash benchmarks/setup.sh
	.venv-bench/bin/python -m benchmarks.run --full

BASE ?= HEAD~1
## sgibridge at git revision BASE against the working tree, in-process, interleaved:
## the work/base ratio per scenario (AB_ARGS="--ab-work REV" compares two revisions).
bench-ab:
	bash benchmarks/setup.sh
	.venv-bench/bin/python -m benchmarks.run --ab $(BASE) --quick --only inprocess $(AB_ARGS)

FUZZ_SECONDS ?= 60
## Coverage-guided fuzzing of the translation core (atheris), for FUZZ_SECONDS.
fuzz: $(STAMP)
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/python -m pip install --quiet atheris
	mkdir -p fuzz/corpus
	cd fuzz && ../$(BIN)/python fuzz_translate.py -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 corpus

COMPAT := .venv-compat
## The frameworks' own test suites natively, through sgibridge and through a2wsgi,
## in their own environment (.venv-compat; a suite with requirements of its own, such
## as Quart's, in .venv-compat-<name>, which the harness builds): prints the table,
## writes docs/compat.md.
$(COMPAT)/.installed: compat/requirements.txt pyproject.toml
	test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install --quiet -r compat/requirements.txt
	$(COMPAT)/bin/python -m pip install --quiet --no-deps -e .
	touch $@

compat: $(COMPAT)/.installed
	$(COMPAT)/bin/python -m compat.run --write-docs $(COMPAT_ARGS)

## The full soak: 50k requests per adapter and server, with random disconnects.
soak: $(STAMP)
	SGIBRIDGE_SOAK=1 $(BIN)/python -m pytest -p no:cacheprovider -s tests/reliability/test_soak.py

clean:
	rm -rf $(VENV) .venv-bench $(COMPAT) $(COMPAT)-* compat/.cache .coverage .mypy_cache .pytest_cache .ruff_cache .nox build/site
