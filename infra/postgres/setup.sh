#!/usr/bin/env bash
# Install (Debian package), start, and provision PostgreSQL for Airflow's metadata database.
# Idempotent. Prints the SQLAlchemy URL on its last line.
#
#   infra/postgres/setup.sh [db_name]      (env: TFPIPE_PG_USER, TFPIPE_PG_PASSWORD)
#
# Without TFPIPE_PG_PASSWORD a random password is generated once and kept, readable only by this
# user, in $TFPIPE_PG_PASSWORD_FILE (default ~/.config/tfpipe/postgres-password): no installation
# shares a well-known password.
set -euo pipefail
db="${1:-airflow}"
user="${TFPIPE_PG_USER:-tfpipe}"
password_file="${TFPIPE_PG_PASSWORD_FILE:-$HOME/.config/tfpipe/postgres-password}"
if [ -n "${TFPIPE_PG_PASSWORD:-}" ]; then
  password="$TFPIPE_PG_PASSWORD"
else
  if [ ! -s "$password_file" ]; then
    mkdir -p "$(dirname "$password_file")"
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' > "$password_file")
  fi
  password="$(cat "$password_file")"
fi

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
  as_postgres psql -p "$port" -qc "create role $user login" >&2
fi
# Passed on stdin, so the password never appears in a process listing.
printf "alter role %s with password '%s';\n" "$user" "$password" | as_postgres psql -p "$port" -q >&2
if [ "$(as_postgres psql -p "$port" -qAtc "select 1 from pg_database where datname='$db'")" != 1 ]; then
  as_postgres psql -p "$port" -qc "create database $db owner $user" >&2
fi
echo "postgresql+psycopg2://$user:$password@127.0.0.1:$port/$db"
