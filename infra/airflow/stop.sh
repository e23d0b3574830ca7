#!/usr/bin/env bash
# Stop everything infra/airflow/start.sh started (its whole process group).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
source "$repo/infra/airflow_env.sh"
pidfile="$AIRFLOW_HOME/standalone.pid"
[ -f "$pidfile" ] || { echo "airflow: not running"; exit 0; }
pid="$(cat "$pidfile")"
kill -TERM -- "-$pid" 2>/dev/null || true
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
kill -KILL -- "-$pid" 2>/dev/null || true
rm -f "$pidfile"
echo "airflow: stopped"
