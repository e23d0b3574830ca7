# tfpipe: the two commands are `make run` (example pipeline end to end) and `make test`.
SHELL := /bin/bash
PY := .venvs/modern/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: setup run test test-fast lint bench clean

## setup: build (or reuse) both locked runtimes; a no-op when the locks are unchanged
setup:
	@bash infra/setup_runtime.sh modern
	@bash infra/setup_runtime.sh estimator

## run: the example retraining pipeline, end to end, on embedded defaults
run: setup
	@bin/tfpipe run penguins

## test: the whole suite (slow tests included: they run whole pipelines on both runtimes)
test: setup
	$(PY) -m pytest -q

## test-fast: the suite without the slow end-to-end tests
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup
	$(PY) benchmarks/pipeline_bench.py

clean:
	rm -rf .tfpipe
