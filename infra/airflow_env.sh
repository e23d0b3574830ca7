#!/usr/bin/env bash
# Source me: the Airflow configuration tfpipe uses locally (SQLite, this repo's dags folder,
# low parallelism for small machines). Override any AIRFLOW__* variable before sourcing.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TFPIPE_HOME="${TFPIPE_HOME:-$repo/.tfpipe}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$TFPIPE_HOME/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$repo/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-2}"
export AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL="${AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL:-10}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-10}"
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
# Tasks reach the API server's execution API: follow the host and port chosen above.
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT}"
# tfpipe's plugin: run reports in the UI, trigger and asset-event validation, run notes.
export AIRFLOW__CORE__PLUGINS_FOLDER="$repo/plugins"
# Only the tfpipe package on the path (a link in .venvs/src), not the repository root.
mkdir -p "$repo/.venvs/src" && ln -sfn "$repo/tfpipe" "$repo/.venvs/src/tfpipe"
export PYTHONPATH="$repo/.venvs/src${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$repo/.venvs/orchestrator/bin:$PATH"
mkdir -p "$AIRFLOW_HOME"
