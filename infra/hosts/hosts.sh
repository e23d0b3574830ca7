#!/usr/bin/env bash
# Airflow on four network hosts, made of Linux network namespaces on this machine (needs root):
#
#   control  PostgreSQL (its own cluster), Redis, the API server, scheduler and DAG processor
#   store    the S3-compatible object store (moto_server), bucket tfpipe
#   w1, w2   one Celery worker each, with its own tfpipe home, cache and task-log folder
#
# Each host has its own network stack (its own address and loopback) and every service binds to
# its host's address, not 127.0.0.1 (Airflow's worker log server, which has no bind setting, binds
# every address of its host: that host's own address and loopback). The hosts are joined by veth
# pairs on a bridge that lives in a fifth namespace (<prefix>net), so this machine's own network
# gains no link and no address; the addresses (TFPIPE_HOSTS_SUBNET.0/24, default 10.213.7.0/24)
# exist only inside these namespaces. Host names resolve through /etc/netns/<ns>/hosts.
# The hosts share the filesystem (it is one machine) but no directory: each worker gets its own.
#
#   infra/hosts/hosts.sh start    (make airflow-hosts)
#   infra/hosts/hosts.sh stop     (make airflow-hosts-stop): every process, namespace, link, file
#   infra/hosts/hosts.sh restart-control   stop and start the API server, scheduler and DAG
#                                          processor (a control machine rebooted mid-run)
#   infra/hosts/hosts.sh start-worker w1   start w1's worker again (its host came back)
#
# Task logs go to the store (Airflow's remote logging, s3://tfpipe/airflow-logs), so control's API
# server shows a task's log after its worker host is gone. Each worker also consumes a Celery
# queue named after its host, so a task can be placed on one host (`queue="w2"`).
#
# Env: TFPIPE_HOSTS_PREFIX (namespace prefix, "tfpipe-"), TFPIPE_HOSTS_SUBNET ("10.213.7"),
# AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT (60: how soon a dead worker's task is
# failed and retried elsewhere), TFPIPE_WARM_RUNTIMES, TFPIPE_WORKER_CONCURRENCY.
# Fault injection: `ip -n <prefix>net link set w2 down` cuts w2 off; `ip netns pids <prefix>w1`
# lists every process of w1.
set -eEuo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "$(id -u)" != 0 ]; then
  echo "airflow-hosts: needs root (it creates and removes network namespaces)" >&2; exit 2
fi
prefix="${TFPIPE_HOSTS_PREFIX:-tfpipe-}"
subnet="${TFPIPE_HOSTS_SUBNET:-10.213.7}"
hosts=(control store w1 w2)
declare -A address=([control]="$subnet.10" [store]="$subnet.11" [w1]="$subnet.21" [w2]="$subnet.22")
net_ns="${prefix}net"
host_ns() { echo "$prefix$1"; }

export TFPIPE_HOME="${TFPIPE_HOME:-$repo/.tfpipe}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$TFPIPE_HOME/airflow-hosts}"
export AIRFLOW__API__HOST="${address[control]}" AIRFLOW__API__PORT=8080
# These follow the API server's host (airflow_env.sh derives them unless already set).
unset AIRFLOW__CORE__EXECUTION_API_SERVER_URL AIRFLOW__API__BASE_URL
source "$repo/infra/airflow_env.sh"
state="$AIRFLOW_HOME/hosts"
mkdir -p "$state"
label=airflow-hosts
source "$repo/infra/airflow/lib.sh"
pg_bin="/usr/lib/postgresql/$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)/bin"

stop_hosts() {
  stop_started
  # Whatever still runs on a host (a task's children, anything started by hand) goes too.
  for ns in $(for h in "${hosts[@]}"; do host_ns "$h"; done) "$net_ns"; do
    ip netns list | grep -qw "^$ns" || continue
    ip netns pids "$ns" | xargs -r kill -TERM 2>/dev/null || true
    for _ in $(seq 10); do [ -z "$(ip netns pids "$ns")" ] && break; sleep 0.5; done
    ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns"   # its links (veth ends, the bridge) go with it
    rm -rf "/etc/netns/$ns"
  done
  if [ -f "$state/pg_dir" ]; then rm -rf "$(cat "$state/pg_dir")"; rm -f "$state/pg_dir"; fi
  echo "airflow-hosts: stopped"
}

start_host_worker() { # HOST: one Celery worker on HOST, its own queue too (tasks placed there)
  worker_args=(--queues "default,$1")
  start_worker "$1" "$1" AIRFLOW__LOGGING__BASE_LOG_FOLDER="$state/$1/logs"
}

deployment_env() { # every setting the Airflow processes share (secrets are made once, in $state)
  local pg_password
  pg_password="$(secret pg-password)"
  pg_url="postgresql+psycopg2://tfpipe:$pg_password@${address[control]}:5432/airflow"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$pg_url"
  export AIRFLOW__CELERY__RESULT_BACKEND="db+$pg_url"
  redis_env "${address[control]}" 6379
  moto_env "${address[store]}" 9000
  remote_logs_env
  # Where announced data drops may be (checked by control on each event, confined by workers).
  export TFPIPE_DATA_ROOTS="${TFPIPE_DATA_ROOTS:-s3://tfpipe/drops}"
  # A worker that stops heartbeating (its host died) has its task failed and retried elsewhere.
  export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="${AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT:-60}"
  export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="${AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL:-5}"
  AIRFLOW__API__SECRET_KEY="$(secret api-secret-key)"  # signs log fetches between hosts
  export AIRFLOW__API__SECRET_KEY
  # A running task rides out a control plane that is away for up to ~45 s (restarted): its
  # calls to the execution API are retried (1, 2, 4, 8, then every 10 s) and its process is not
  # ended before 9 heartbeats (5 s apart) have failed. The scheduler, back, still fails a task
  # whose last heartbeat is older than TASK_INSTANCE_HEARTBEAT_TIMEOUT, and Airflow retries it.
  export AIRFLOW__WORKERS__EXECUTION_API_RETRIES="${AIRFLOW__WORKERS__EXECUTION_API_RETRIES:-8}"
  export AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX="${AIRFLOW__WORKERS__EXECUTION_API_RETRY_WAIT_MAX:-10}"
  export AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS="${AIRFLOW__WORKERS__MAX_FAILED_HEARTBEATS:-9}"
}

case "${1:-start}" in
  stop) stop_hosts; exit 0 ;;
  restart-control)
    [ -f "$pids" ] || { echo "airflow-hosts: not running (prefix $prefix)" >&2; exit 1; }
    deployment_env
    stop_control
    echo "airflow-hosts: control plane stopped; starting it again…"
    start_control control
    wait_ready control
    exit 0 ;;
  start-worker)  # HOST: its Celery worker (and warm runtimes) again, after the host was lost
    host="${2:-}"
    [[ "$host" == w1 || "$host" == w2 ]] || { echo "usage: $0 start-worker w1|w2" >&2; exit 2; }
    [ -f "$pids" ] || { echo "airflow-hosts: not running (prefix $prefix)" >&2; exit 1; }
    deployment_env
    while read -r name pid; do
      if [[ "$name" =~ ^$host(-warm-[a-z]+)?$ ]] && kill -0 "$pid" 2>/dev/null; then
        echo "airflow-hosts: $host's worker is running (pid $pid)" >&2; exit 1
      fi
    done < "$pids"
    # Its old processes are gone (the host was lost): forget them, so readiness checks skip them.
    grep -v -E "^$host(-warm-[a-z]+)? " "$pids" > "$pids.kept" || true
    mv "$pids.kept" "$pids"
    start_host_worker "$host"
    for _ in $(seq 120); do
      grep -q "ready\." "$state/$host.log" 2>/dev/null && break; sleep 0.5
    done
    grep -q "ready\." "$state/$host.log" || { echo "airflow-hosts: $host's worker did not start; see $state/$host.log" >&2; exit 1; }
    echo "airflow-hosts: $host's worker is up"
    exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop|restart-control|start-worker HOST" >&2; exit 2 ;;
esac

if [ -f "$pids" ] || ip netns list | grep -qw "^$net_ns"; then
  echo "airflow-hosts: already running (prefix $prefix); stop it with: make airflow-hosts-stop" >&2
  exit 1
fi
command -v redis-server >/dev/null && [ -x "$pg_bin/postgres" ] || bash "$repo/infra/system_deps.sh"
pg_bin="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -V | tail -1)/bin"
trap 'echo "airflow-hosts: start FAILED; stopping what started" >&2; stop_hosts' ERR

# -- the network: a bridge in its own namespace, one veth pair per host ------------------------
ip netns add "$net_ns"
ip -n "$net_ns" link set lo up
ip -n "$net_ns" link add br0 type bridge
ip -n "$net_ns" link set br0 up
for h in "${hosts[@]}"; do
  ns="$(host_ns "$h")"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  # The switch port is named after the host (in $net_ns); the host's end is its eth0.
  ip -n "$net_ns" link add "$h" type veth peer name eth0 netns "$ns"
  ip -n "$net_ns" link set "$h" master br0 up
  ip -n "$ns" addr add "${address[$h]}/24" dev eth0
  ip -n "$ns" link set eth0 up
  mkdir -p "/etc/netns/$ns"
  {
    echo "127.0.0.1 localhost"
    for other in "${hosts[@]}"; do echo "${address[$other]} $other"; done
  } > "/etc/netns/$ns/hosts"
done

# -- control: PostgreSQL, a cluster of its own, listening on control's address only ------------
# Its data directory must be reachable by the postgres user (a test's tmp dir is not).
pg_dir="$(mktemp -d /var/tmp/tfpipe-hosts-pg.XXXXXX)"
echo "$pg_dir" > "$state/pg_dir"
chown postgres "$pg_dir"
deployment_env
pg_password="$(secret pg-password)"
(umask 077; echo "$pg_password" > "$pg_dir/pwfile"); chown postgres "$pg_dir/pwfile"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U tfpipe --pwfile="$pg_dir/pwfile" \
  --auth-local=peer --auth-host=scram-sha-256 > "$state/initdb.log" 2>&1
rm -f "$pg_dir/pwfile"
echo "host all tfpipe $subnet.0/24 scram-sha-256" >> "$pg_dir/data/pg_hba.conf"
start_on control postgres runuser -u postgres -- "$pg_bin/postgres" -D "$pg_dir/data" \
  -c listen_addresses="${address[control]}" -p 5432 -c unix_socket_directories="$pg_dir" \
  -c max_connections=200 -c fsync=off
for _ in $(seq 60); do
  on control "$pg_bin/pg_isready" -q -h "${address[control]}" -p 5432 && break; sleep 0.5
done
PGPASSWORD="$pg_password" on control "$pg_bin/createdb" -h "${address[control]}" -p 5432 -U tfpipe airflow

# -- control: Redis; store: the object store -----------------------------------------------------
start_redis control "${address[control]}" 6379
start_moto store "${address[store]}" 9000


# -- control: the Airflow control plane --------------------------------------------------------
migrate_db control
start_control control

# -- w1, w2: one Celery worker each, nothing local shared ----------------------------------------
for w in w1 w2; do start_host_worker "$w"; done

echo "airflow-hosts: starting (logs in $state)…"
wait_ready control
trap - ERR
for h in "${hosts[@]}"; do echo "airflow-hosts: host $h = ${address[$h]} (namespace $(host_ns "$h"))"; done
echo "airflow-hosts: artifacts and pushed models in $TFPIPE_STORE (endpoint $TFPIPE_S3_ENDPOINT_URL)"
echo "airflow-hosts: reach a host with: ip netns exec $(host_ns control) curl http://${address[control]}:8080/"
echo "airflow-hosts: task logs in $AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER; data drops may be announced under $TFPIPE_DATA_ROOTS"
echo "airflow-hosts: restart the control plane: $0 restart-control; a lost worker host: $0 start-worker w1|w2"
