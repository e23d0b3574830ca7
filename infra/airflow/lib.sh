#!/usr/bin/env bash
# Source me: the pieces of a Celery deployment of Airflow that infra/airflow/celery.sh (every
# service on 127.0.0.1) and infra/hosts/hosts.sh (each service on its own network namespace)
# share. The caller sets: repo, state (a directory for logs, secrets and the pid list), and, for
# hosts, host_ns (a function: host name -> network namespace). A HOST argument that is empty runs
# on this machine's own network; otherwise inside that host's namespace.

pids="$state/pids"

on() { # HOST command...: run a command on HOST
  local host="$1"; shift
  if [ -n "$host" ]; then ip netns exec "$(host_ns "$host")" "$@"; else "$@"; fi
}

secret() { # a random secret kept (mode 600) in $state/<name>, made once
  local file="$state/$1"
  [ -s "$file" ] || (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' > "$file")
  cat "$file"
}

start_on() { # HOST name command...: start on HOST in its own session, log to $state/<name>.log
  local host="$1" name="$2"; shift 2
  if [ -n "$host" ]; then
    setsid ip netns exec "$(host_ns "$host")" "$@" > "$state/$name.log" 2>&1 < /dev/null &
  else
    setsid "$@" > "$state/$name.log" 2>&1 < /dev/null &
  fi
  echo "$name $!" >> "$pids"
}

start_bg() { start_on "" "$@"; }

stop_started() { # stop every process group in $pids: workers first (last started), then the rest.
  # SIGTERM, then SIGKILL to what is left after 10 s: a Celery worker's warm shutdown would wait
  # for its running task (a stop ends the deployment; the task's artifact is never half-visible).
  [ -f "$pids" ] || return 0
  tac "$pids" | while read -r name pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 20); do
    local alive=0
    while read -r name pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$pids"
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  while read -r name pid; do kill -KILL -- "-$pid" 2>/dev/null || true; done < "$pids"
  rm -f "$pids"
}

redis_env() { # ADDRESS PORT: the broker settings every Airflow process of the deployment needs
  local address="$1" port="$2" password
  password="$(secret redis-password)"
  export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__CELERY__BROKER_URL="redis://:$password@$address:$port/0"
  # One JWT secret for the API server and every worker's task runner.
  AIRFLOW__API_AUTH__JWT_SECRET="$(secret jwt-secret)"
  export AIRFLOW__API_AUTH__JWT_SECRET
}

start_redis() { # HOST ADDRESS PORT: password-protected, nothing persisted (messages are transient)
  local host="$1" address="$2" port="$3"
  mkdir -p "$state/redis"
  # The password goes in a config file (mode 600), never on a command line.
  (umask 077; printf 'bind %s\nport %s\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
    "$address" "$port" "$state/redis" "$(secret redis-password)" > "$state/redis/redis.conf")
  start_on "$host" redis redis-server "$state/redis/redis.conf"
  redis_env "$address" "$port"
}

moto_env() { # ADDRESS PORT: where the artifacts and pushed models are, and the store's keys
  export TFPIPE_S3_ENDPOINT_URL="http://$1:$2"
  export AWS_ACCESS_KEY_ID="tfpipe-local" AWS_DEFAULT_REGION="us-east-1"
  AWS_SECRET_ACCESS_KEY="$(secret s3-secret)"
  export AWS_SECRET_ACCESS_KEY
  export TFPIPE_STORE="s3://tfpipe/airflow"
}

start_moto() { # HOST ADDRESS PORT: moto_server as the S3-compatible store, bucket tfpipe
  local host="$1" address="$2" port="$3"
  start_on "$host" moto "$repo/.venvs/dev/bin/moto_server" -H "$address" -p "$port"
  moto_env "$address" "$port"
  for _ in $(seq 60); do
    on "$host" curl -fsS "$TFPIPE_S3_ENDPOINT_URL/moto-api/" >/dev/null 2>&1 && break
    sleep 0.5
  done
  on "$host" "$repo/.venvs/orchestrator/bin/python" -c \
    'import boto3, os; boto3.client("s3", endpoint_url=os.environ["TFPIPE_S3_ENDPOINT_URL"]).create_bucket(Bucket="tfpipe")'
}

remote_logs_env() { # task logs to the store (Airflow's S3 task handler, amazon provider): a
  # worker uploads each try's log when the try ends; the API server reads it from there, so a
  # task's log outlives its worker host. Needs moto_env first (endpoint and keys).
  export AIRFLOW__LOGGING__REMOTE_LOGGING=True
  export AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER="s3://tfpipe/airflow-logs"
  export AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID=tfpipe_store
  # The connection as an environment variable: the keys stay in the environment, as for tfpipe.
  AIRFLOW_CONN_TFPIPE_STORE="$(python3 -c 'import json, os, sys; print(json.dumps({"conn_type": "aws", "login": os.environ["AWS_ACCESS_KEY_ID"], "password": os.environ["AWS_SECRET_ACCESS_KEY"], "extra": {"endpoint_url": os.environ["TFPIPE_S3_ENDPOINT_URL"], "region_name": os.environ["AWS_DEFAULT_REGION"]}}))')"
  export AIRFLOW_CONN_TFPIPE_STORE
}

migrate_db() { # HOST: create or upgrade Airflow's schema (HOST must reach the database)
  echo "$label: migrating the metadata database…"
  on "$1" airflow db migrate > "$state/migrate.log" 2>&1 || {
    echo "$label: db migrate FAILED; see $state/migrate.log" >&2; return 1; }
}

start_control() { # HOST: the API server, scheduler and DAG processor
  start_on "$1" api-server airflow api-server --host "$AIRFLOW__API__HOST" --port "$AIRFLOW__API__PORT"
  start_on "$1" scheduler airflow scheduler
  start_on "$1" dag-processor airflow dag-processor
}

stop_control() { # the API server, scheduler and DAG processor (SIGTERM to all three, SIGKILL
  # to what is left after 30 s); the database, broker, store and workers stay up, as when a control
  # machine is rebooted
  [ -f "$pids" ] || return 0
  local kept="$state/pids.kept" stopping=() name pid
  : > "$kept"
  while read -r name pid; do
    case "$name" in
      api-server|scheduler|dag-processor) kill -TERM -- "-$pid" 2>/dev/null || true
        stopping+=("$pid") ;;
      *) echo "$name $pid" >> "$kept" ;;
    esac
  done < "$pids"
  for _ in $(seq 60); do
    local alive=0
    for pid in "${stopping[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in "${stopping[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  mv "$kept" "$pids"
}

start_worker() { # HOST NAME [env assignments...]: one Celery worker with its own home and cache,
  # plus its warm runtimes (tfpipe.components.core.warm): its tasks fork their steps from them
  # instead of importing TensorFlow again (same cache: that is where tasks look for the socket).
  local host="$1" name="$2"; shift 2
  mkdir -p "$state/$name/home" "$state/$name/cache"
  local dirs=(TFPIPE_HOME="$state/$name/home" TFPIPE_CACHE="$state/$name/cache")
  start_on "$host" "$name" env TFPIPE_WORKER_NAME="$name" "${dirs[@]}" "$@" \
    AIRFLOW__CORE__HOSTNAME_CALLABLE=tfpipe.pipelines.worker_name.hostname \
    airflow celery worker --celery-hostname "$name@%h" \
    --concurrency "${TFPIPE_WORKER_CONCURRENCY:-1}" ${worker_args[@]+"${worker_args[@]}"}
  for runtime in ${TFPIPE_WARM_RUNTIMES-modern}; do
    start_on "$host" "$name-warm-$runtime" env "${dirs[@]}" "$@" "$repo/bin/tfpipe" warm "$runtime"
  done
}

wait_ready() { # HOST: until the API server answers and the admin password exists; 1 on failure
  local host="$1" url="http://$AIRFLOW__API__HOST:$AIRFLOW__API__PORT"
  local password_file="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
  for _ in $(seq 240); do
    if on "$host" curl -fsS "$url/api/v2/monitor/health" >/dev/null 2>&1 && [ -f "$password_file" ]; then
      password="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$password_file")"
      echo "$label: ready at $url  (login: admin / $password)"
      return 0
    fi
    while read -r name pid; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "$label: $name FAILED to start; last lines of $state/$name.log:" >&2
        tail -30 "$state/$name.log" >&2; return 1
      fi
    done < "$pids"
    sleep 1
  done
  echo "$label: not ready after 240 s; logs in $state" >&2
  return 1
}
