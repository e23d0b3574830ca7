#!/usr/bin/env bash
# Airflow across workers, on one machine: PostgreSQL (metadata + Celery results), Redis (the Celery
# broker), the API server, scheduler and DAG processor, and two Celery workers, each with its own
# tfpipe home and cache (scratch, run records, downloaded artifacts: nothing local is shared).
# Artifacts and pushed models live only in an S3-compatible object store: $TFPIPE_STORE
# (s3://bucket/prefix, endpoint and keys from TFPIPE_S3_ENDPOINT_URL / AWS_*), or, when unset, a
# local moto_server started here as a stand-in for S3/MinIO.
#
#   infra/airflow/celery.sh start      (make airflow-celery)
#   infra/airflow/celery.sh stop       stop everything it started (PostgreSQL: only if it was down)
#   infra/airflow/celery.sh stop --purge   also drop its database (used by the tests)
#
# Ports and names (env): AIRFLOW__API__PORT (8080), TFPIPE_REDIS_PORT (6379), TFPIPE_S3_PORT
# (9000), AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT (8793), TFPIPE_PG_DB (airflow_celery),
# TFPIPE_CELERY_WORKERS (2), TFPIPE_WORKER_CONCURRENCY (1).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export TFPIPE_HOME="${TFPIPE_HOME:-$repo/.tfpipe}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$TFPIPE_HOME/airflow-celery}"
source "$repo/infra/airflow_env.sh"
state="$AIRFLOW_HOME/celery"
mkdir -p "$state"
label=airflow-celery
source "$repo/infra/airflow/lib.sh"

stop_all() {
  stop_started
  command -v pg_lsclusters >/dev/null || { echo "airflow-celery: stopped"; return 0; }
  db="$(cat "$state/pg_db" 2>/dev/null || true)"
  read -r version cluster port _ < <(pg_lsclusters --no-header | head -1)
  if [ "${1:-}" = --purge ] && [ -n "$db" ]; then
    if runuser -u postgres -- pg_isready -q -p "$port" 2>/dev/null; then
      runuser -u postgres -- psql -p "$port" -qc "drop database if exists $db" >/dev/null
    else  # an earlier stop shut down the cluster it had started: the database stays in it
      echo "airflow-celery: PostgreSQL is down; database $db not dropped"
    fi
  fi
  if [ -f "$state/pg_started" ]; then
    pg_ctlcluster "$version" "$cluster" stop || true
    rm -f "$state/pg_started"
  fi
  echo "airflow-celery: stopped"
}

case "${1:-start}" in
  stop) stop_all "${2:-}"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop [--purge]" >&2; exit 2 ;;
esac

if [ -f "$pids" ]; then
  echo "airflow-celery: already running (see $pids); stop it with: make airflow-stop" >&2
  exit 1
fi
command -v redis-server >/dev/null || bash "$repo/infra/system_deps.sh"

# PostgreSQL: Airflow refuses SQLite with the CeleryExecutor.
db="${TFPIPE_PG_DB:-airflow_celery}"
echo "$db" > "$state/pg_db"
pg_setup_log="$state/postgres-setup.log"
pg_url="$(bash "$repo/infra/postgres/setup.sh" "$db" 2> "$pg_setup_log" | tail -1)"
grep -q "postgres: starting cluster" "$pg_setup_log" && touch "$state/pg_started"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$pg_url"
export AIRFLOW__CELERY__RESULT_BACKEND="db+$pg_url"

# Redis (the broker) on loopback.
redis_port="${TFPIPE_REDIS_PORT:-6379}"
start_redis "" 127.0.0.1 "$redis_port"

# The object store.
if [ -z "${TFPIPE_STORE:-}" ]; then
  start_moto "" 127.0.0.1 "${TFPIPE_S3_PORT:-9000}"
fi
case "$TFPIPE_STORE" in
  s3://*) ;;
  *) echo "airflow-celery: TFPIPE_STORE must be an s3:// URI (workers share no disk): $TFPIPE_STORE" >&2
     stop_all; exit 2 ;;
esac

migrate_db "" || { stop_all; exit 1; }
start_control ""

workers="${TFPIPE_CELERY_WORKERS:-2}"
log_port="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}"
for i in $(seq "$workers"); do
  # Only the first worker serves task logs (one port per machine); all write them under
  # $AIRFLOW_HOME/logs, which the API server reads. On a cluster: remote logging instead.
  worker_args=(); [ "$i" -gt 1 ] && worker_args=(--skip-serve-logs)
  start_worker "" "w$i" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$log_port"
done

echo "airflow-celery: starting (logs in $state)…"
if ! wait_ready ""; then stop_all; exit 1; fi
echo "airflow-celery: $workers Celery workers (w1..w$workers; scratch under $state/wN), broker redis://127.0.0.1:$redis_port"
echo "airflow-celery: artifacts and pushed models in $TFPIPE_STORE${TFPIPE_S3_ENDPOINT_URL:+ (endpoint $TFPIPE_S3_ENDPOINT_URL)}"
if grep -q "^moto " "$pids"; then
  echo "airflow-celery: (a local moto_server holds them in memory: stopping loses them; set"
  echo "                TFPIPE_STORE and TFPIPE_S3_ENDPOINT_URL to a real bucket to keep them)"
fi
