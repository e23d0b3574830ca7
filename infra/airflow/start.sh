#!/usr/bin/env bash
# Start Airflow for this repo: `airflow standalone` (API server + UI, scheduler with the
# LocalExecutor, DAG processor, triggerer) on 127.0.0.1, in the background, as one process group.
#
#   infra/airflow/start.sh            SQLite metadata (the embedded default)
#   TFPIPE_AIRFLOW_DB=postgres infra/airflow/start.sh   PostgreSQL from infra/postgres/setup.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
source "$repo/infra/airflow_env.sh"
if [ "${TFPIPE_AIRFLOW_DB:-sqlite}" = postgres ]; then
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$(bash "$repo/infra/postgres/setup.sh" airflow | tail -1)"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  export AIRFLOW__CORE__EXECUTOR=LocalExecutor
fi
pidfile="$AIRFLOW_HOME/standalone.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "airflow: already running (pid $(cat "$pidfile")); stop it with: make airflow-stop"
  exit 0
fi
log="$AIRFLOW_HOME/standalone.log"
# One warm worker per runtime in TFPIPE_WARM_RUNTIMES (default: modern; "" for none): tasks fork
# their steps from it instead of importing TensorFlow again (tfpipe.components.core.warm). They
# share the process group, so stopping Airflow stops them.
warm="${TFPIPE_WARM_RUNTIMES-modern}"
setsid bash -c 'for runtime in $1; do "$2/bin/tfpipe" warm "$runtime" & done; exec airflow standalone' \
  _ "$warm" "$repo" > "$log" 2>&1 < /dev/null &
echo $! > "$pidfile"
url="http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT"
echo "airflow: starting (log $log)…"
for _ in $(seq 180); do
  if curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1 && \
     [ -f "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" ]; then
    password="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' \
      "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated")"
    echo "airflow: ready at $url  (login: admin / $password)"
    # Never print a password: the database URL is shown with its secret masked.
    db="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite in $AIRFLOW_HOME}"
    echo "airflow: DAGs from $AIRFLOW__CORE__DAGS_FOLDER; metadata: $(printf '%s' "$db" | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#')"
    echo "airflow: data-driven DAGs run as soon as data lands; scheduled DAGs (penguins) start"
    echo "         paused: unpause them in the UI or with 'airflow dags unpause penguins' (a run"
    echo "         triggered while a DAG is paused waits, queued, until it is unpaused)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "airflow: FAILED to start; last lines of $log:" >&2; tail -30 "$log" >&2; exit 1
  fi
  sleep 1
done
echo "airflow: not ready after 180 s; see $log" >&2
exit 1
