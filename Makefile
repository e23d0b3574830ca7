# tfpipe: the two commands are `make run` (example pipeline end to end) and `make test`.
SHELL := /bin/bash
PY := .venvs/dev/bin/python
# Only the tfpipe package on the path (a link in .venvs/src), not the repository root.
export PYTHONPATH := $(CURDIR)/.venvs/src
export TFPIPE_HOME ?= $(CURDIR)/.tfpipe

.PHONY: setup setup-run system-deps run test test-fast lint bench clean airflow airflow-postgres airflow-celery airflow-stop airflow-hosts airflow-hosts-stop

## setup: build (or reuse) the locked environments; a no-op when the locks are unchanged.
## modern, estimator: the training runtimes; orchestrator: CLI + Airflow; dev: tests and tools
setup: setup-run
	@bash infra/setup_runtime.sh estimator
	@bash infra/setup_runtime.sh dev

## setup-run: only what the example run needs: its runtime and the CLI's (not the estimator
## runtime, not the test tools), built side by side (downloads overlap compiling)
setup-run:
	@bash infra/ensure_uv.sh
	@bash infra/setup_runtime.sh modern & modern=$$!; \
	  bash infra/setup_runtime.sh orchestrator; orchestrator=$$?; \
	  wait $$modern && [ $$orchestrator -eq 0 ]
	@mkdir -p .venvs/src && ln -sfn $(CURDIR)/tfpipe .venvs/src/tfpipe

## run: the example retraining pipeline, end to end, on embedded defaults
run: setup-run
	@bin/tfpipe run penguins

## system-deps: Debian packages the tests use (postgresql, chromium); installs what is missing
system-deps:
	@bash infra/system_deps.sh

## test: the whole suite (slow tests included: they run whole pipelines on both runtimes)
test: setup system-deps
	$(PY) -m pytest -q

## test-fast: the suite without the slow end-to-end tests
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

## airflow: `airflow standalone` on 127.0.0.1 with this repo's dags/ (prints URL and login)
airflow: setup
	@bash infra/airflow/start.sh

## airflow-postgres: the same on PostgreSQL (installed and provisioned by infra/postgres/setup.sh)
airflow-postgres: setup
	@TFPIPE_AIRFLOW_DB=postgres bash infra/airflow/start.sh

## airflow-celery: Airflow across two Celery workers (PostgreSQL, Redis), artifacts and pushed
## models on an S3-compatible object store ($$TFPIPE_STORE, else a local moto_server)
airflow-celery: setup system-deps
	@bash infra/airflow/celery.sh start

## airflow-hosts: the same on four network hosts (Linux network namespaces; root): control
## (PostgreSQL, Redis, API server, scheduler, DAG processor), store (S3), w1 and w2 (workers)
airflow-hosts: setup system-deps
	@bash infra/hosts/hosts.sh start

## airflow-hosts-stop: stop every process, namespace and link `make airflow-hosts` started
airflow-hosts-stop:
	@bash infra/hosts/hosts.sh stop

## airflow-stop: stop every process `make airflow` or `make airflow-celery` started
airflow-stop:
	@bash infra/airflow/stop.sh
	@bash infra/airflow/celery.sh stop

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup
	$(PY) benchmarks/pipeline_bench.py

clean:
	rm -rf .tfpipe
