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
pids="$state/pids"

secret() { # a random secret kept (mode 600) in $state/<name>, made once
  local file="$state/$1"
  [ -s "$file" ] || (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' > "$file")
  cat "$file"
}

start_bg() { # name command...: start in its own process group, log to $state/<name>.log
  local name="$1"; shift
  setsid "$@" > "$state/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$pids"
}

stop_all() {
  if [ -f "$pids" ]; then
    # Workers first (they finish or abandon their task), then the rest.
    tac "$pids" | while read -r name pid; do
      kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for _ in $(seq 30); do
      alive=0
      while read -r name pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$pids"
      [ "$alive" = 0 ] && break
      sleep 1
    done
    while read -r name pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done < "$pids"
    rm -f "$pids"
  fi
  command -v pg_lsclusters >/dev/null || { echo "airflow-celery: stopped"; return 0; }
  db="$(cat "$state/pg_db" 2>/dev/null || true)"
  read -r version cluster port _ < <(pg_lsclusters --no-header | head -1)
  if [ "${1:-}" = --purge ] && [ -n "$db" ]; then
    runuser -u postgres -- psql -p "$port" -qc "drop database if exists $db" >/dev/null
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

# Redis, password-protected, on loopback, nothing persisted (Celery messages are transient).
redis_port="${TFPIPE_REDIS_PORT:-6379}"
redis_password="$(secret redis-password)"
mkdir -p "$state/redis"
# The password goes in a config file (mode 600), never on a command line.
(umask 077; printf 'bind 127.0.0.1\nport %s\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
  "$redis_port" "$state/redis" "$redis_password" > "$state/redis/redis.conf")
start_bg redis redis-server "$state/redis/redis.conf"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CELERY__BROKER_URL="redis://:$redis_password@127.0.0.1:$redis_port/0"
# One JWT secret for the API server and every worker's task runner.
AIRFLOW__API_AUTH__JWT_SECRET="$(secret jwt-secret)"
export AIRFLOW__API_AUTH__JWT_SECRET

# The object store.
if [ -z "${TFPIPE_STORE:-}" ]; then
  s3_port="${TFPIPE_S3_PORT:-9000}"
  start_bg moto "$repo/.venvs/dev/bin/moto_server" -H 127.0.0.1 -p "$s3_port"
  export TFPIPE_S3_ENDPOINT_URL="http://127.0.0.1:$s3_port"
  export AWS_ACCESS_KEY_ID="tfpipe-local" AWS_DEFAULT_REGION="us-east-1"
  AWS_SECRET_ACCESS_KEY="$(secret s3-secret)"
  export AWS_SECRET_ACCESS_KEY
  for _ in $(seq 60); do curl -fsS "$TFPIPE_S3_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break; sleep 0.5; done
  "$repo/.venvs/orchestrator/bin/python" -c \
    'import boto3, os; boto3.client("s3", endpoint_url=os.environ["TFPIPE_S3_ENDPOINT_URL"]).create_bucket(Bucket="tfpipe")'
  export TFPIPE_STORE="s3://tfpipe/airflow"
fi
case "$TFPIPE_STORE" in
  s3://*) ;;
  *) echo "airflow-celery: TFPIPE_STORE must be an s3:// URI (workers share no disk): $TFPIPE_STORE" >&2
     stop_all; exit 2 ;;
esac

echo "airflow-celery: migrating the metadata database…"
airflow db migrate > "$state/migrate.log" 2>&1 || {
  echo "airflow-celery: db migrate FAILED; see $state/migrate.log" >&2; stop_all; exit 1; }

start_bg api-server airflow api-server --host "$AIRFLOW__API__HOST" --port "$AIRFLOW__API__PORT"
start_bg scheduler airflow scheduler
start_bg dag-processor airflow dag-processor

workers="${TFPIPE_CELERY_WORKERS:-2}"
log_port="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-8793}"
for i in $(seq "$workers"); do
  name="w$i"
  mkdir -p "$state/$name/home" "$state/$name/cache"
  # Only the first worker serves task logs (one port per machine); all write them under
  # $AIRFLOW_HOME/logs, which the API server reads. On a cluster: remote logging instead.
  extra=(); [ "$i" -gt 1 ] && extra=(--skip-serve-logs)
  start_bg "$name" env TFPIPE_WORKER_NAME="$name" TFPIPE_HOME="$state/$name/home" \
    TFPIPE_CACHE="$state/$name/cache" AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$log_port" \
    AIRFLOW__CORE__HOSTNAME_CALLABLE=tfpipe.pipelines.worker_name.hostname \
    airflow celery worker --celery-hostname "$name@%h" \
    --concurrency "${TFPIPE_WORKER_CONCURRENCY:-1}" "${extra[@]}"
  # The worker's warm runtimes (tfpipe.components.core.warm): its tasks fork their steps from
  # them instead of importing TensorFlow again. Same cache as the worker: that is where its
  # tasks look for the socket.
  for runtime in ${TFPIPE_WARM_RUNTIMES-modern}; do
    start_bg "$name-warm-$runtime" env TFPIPE_HOME="$state/$name/home" \
      TFPIPE_CACHE="$state/$name/cache" "$repo/bin/tfpipe" warm "$runtime"
  done
done

url="http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT"
password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
echo "airflow-celery: starting (logs in $state)…"
for _ in $(seq 240); do
  if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1 && [ -f "$password_file" ]; then
    password="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$password_file")"
    echo "airflow-celery: ready at $url  (login: admin / $password)"
    echo "airflow-celery: $workers Celery workers (w1..w$workers; scratch under $state/wN), broker redis://127.0.0.1:$redis_port"
    echo "airflow-celery: artifacts and pushed models in $TFPIPE_STORE${TFPIPE_S3_ENDPOINT_URL:+ (endpoint $TFPIPE_S3_ENDPOINT_URL)}"
    if grep -q "^moto " "$pids"; then
      echo "airflow-celery: (a local moto_server holds them in memory: stopping loses them; set"
      echo "                TFPIPE_STORE and TFPIPE_S3_ENDPOINT_URL to a real bucket to keep them)"
    fi
    exit 0
  fi
  while read -r name pid; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "airflow-celery: $name FAILED to start; last lines of $state/$name.log:" >&2
      tail -30 "$state/$name.log" >&2; stop_all; exit 1
    fi
  done < "$pids"
  sleep 1
done
echo "airflow-celery: not ready after 240 s; logs in $state" >&2
stop_all
exit 1
