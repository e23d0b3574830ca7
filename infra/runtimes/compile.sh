#!/usr/bin/env bash
# Re-resolve the locks after editing a *.in file: dev (everything) first, then the modern runtime
# and the orchestrator constrained by it, so shared packages keep one version in every environment.
# Current pins are preferred (passed as constraints), so only what the edit needs changes.
#   infra/runtimes/compile.sh             dev, modern, orchestrator
#   infra/runtimes/compile.sh estimator   the estimator runtime (TF 2.15 pins, resolved on its own)
set -euo pipefail
cd "$(dirname "$0")"
current=".pins.txt"; trap 'rm -f "$current"' EXIT
# overrides.txt: upper bounds of dependencies that tfpipe overrides, each with its reason.
compile() { uv pip compile --quiet --python-version 3.11 --no-header --override overrides.txt "$@"; }
if [ "${1:-}" = estimator ]; then
  grep -h '^[A-Za-z0-9].*==' estimator.lock > "$current" || true
  compile estimator.in -c "$current" -o estimator.lock
else
  grep -h '^[A-Za-z0-9].*==' modern.lock orchestrator.lock dev.lock > "$current" 2>/dev/null || true
  compile dev.in -c "$current" -o dev.lock
  compile modern.in -c dev.lock -o modern.lock
  compile orchestrator.in -c dev.lock -o orchestrator.lock
fi
for lock in *.lock; do echo "$lock: $(grep -c '^[A-Za-z0-9].*==' "$lock") pins"; done
