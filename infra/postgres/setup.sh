#!/usr/bin/env bash
# Install (Debian package), start, and provision PostgreSQL for Airflow's metadata database.
# Idempotent. Prints the SQLAlchemy URL on its last line.
#
#   infra/postgres/setup.sh [db_name]      (env: TFPIPE_PG_USER, TFPIPE_PG_PASSWORD, TFPIPE_PG_PORT)
set -euo pipefail
db="${1:-airflow}"
user="${TFPIPE_PG_USER:-tfpipe}"
password="${TFPIPE_PG_PASSWORD:-tfpipe}"

if ! command -v pg_lsclusters >/dev/null; then
  echo "postgres: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -1)
if [ "$status" != "online" ]; then
  echo "postgres: starting cluster $version/$cluster on port $port" >&2
  pg_ctlcluster "$version" "$cluster" start
fi
as_postgres() { runuser -u postgres -- "$@"; }
for _ in $(seq 30); do as_postgres psql -p "$port" -qAtc "select 1" >/dev/null 2>&1 && break; sleep 0.5; done
if [ "$(as_postgres psql -p "$port" -qAtc "select 1 from pg_roles where rolname='$user'")" != 1 ]; then
  as_postgres psql -p "$port" -qc "create role $user login password '$password'" >&2
fi
if [ "$(as_postgres psql -p "$port" -qAtc "select 1 from pg_database where datname='$db'")" != 1 ]; then
  as_postgres psql -p "$port" -qc "create database $db owner $user" >&2
fi
echo "postgresql+psycopg2://$user:$password@127.0.0.1:$port/$db"
