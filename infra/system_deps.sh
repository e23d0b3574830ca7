#!/usr/bin/env bash
# Debian packages the test suite needs: PostgreSQL (Airflow's production metadata database) and
# Chromium (renders the run report in a real browser), Redis (the Celery broker of `make
# airflow-celery`), libfaketime (a host whose clock is off, in tests/test_clock_skew.py). Installs
# only what is missing.
set -euo pipefail
missing=()
command -v pg_lsclusters >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || missing+=(libfaketime)
command -v ip >/dev/null || missing+=(iproute2)
[ ${#missing[@]} -eq 0 ] && { echo "system deps: present"; exit 0; }
if [ "$(id -u)" != 0 ]; then
  echo "system deps: need ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system deps: installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
