# Every target sets itself up: `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.envlock-installed

.PHONY: install demo test test-deps lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

demo: install test-deps
	$(BIN)/python demo/run_demo.py

lint: install
	$(BIN)/ruff check envlock tests demo $(wildcard bench)
	$(BIN)/mypy envlock

# The clone-curated tests run a real OCI registry: Debian's docker-registry (distribution 2.8).
test-deps:
	@command -v docker-registry >/dev/null || { \
		echo "installing docker-registry (Debian) for the OCI registry tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null; }

test: install test-deps lint
	$(BIN)/pytest -q

# `make bench BENCH_AGAINST=<git revision>` also measures that envlock, in the same interleaved rounds.
BENCH_AGAINST ?=
bench: install
	$(BIN)/python bench/run_bench.py $(if $(BENCH_AGAINST),--against $(BENCH_AGAINST))

clean:
	rm -rf $(VENV) build .envlock .pytest_cache .mypy_cache .ruff_cache
