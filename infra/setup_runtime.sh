#!/usr/bin/env bash
# Create (or reuse) the virtual environment of one runtime profile.
#
# The environment lives in a cache directory keyed by the hash of the profile's lock file and the
# Python version, so a fresh clone reuses a matching environment and a changed lock builds a new one.
# It is built in a temporary directory and renamed into place only when the install succeeded, so a
# failed install never leaves a half-built environment that later runs would trust.
#
# usage: infra/setup_runtime.sh <modern|estimator>
set -euo pipefail

profile="${1:?usage: infra/setup_runtime.sh <modern|estimator>}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
lock="$repo/infra/runtimes/$profile.lock"
[ -f "$lock" ] || { echo "setup: no lock file for runtime '$profile' at $lock" >&2; exit 2; }

python_bin="${TFPIPE_PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null || python_bin=python3
bash "$repo/infra/ensure_uv.sh"

key="$( { cat "$lock"; "$python_bin" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-12)"
cache="${TFPIPE_CACHE:-$HOME/.cache/tfpipe}/venvs"
target="$cache/$profile-$key"
link="$repo/.venvs/$profile"
mkdir -p "$cache" "$repo/.venvs"

if [ -x "$target/bin/python" ] && [ -f "$target/.tfpipe-complete" ]; then
  echo "setup: runtime '$profile' up to date ($target)"
else
  tmp="$cache/.$profile-$key.tmp.$$"
  rm -rf "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: building runtime '$profile' from $(basename "$lock") into $target"
  start=$(date +%s)
  # --relocatable: entry points and activate scripts use relative paths, so the rename below is safe.
  uv venv --quiet --relocatable --python "$(command -v "$python_bin")" "$tmp"
  # Byte-compile at install: imports then never pay for compiling, even under
  # PYTHONDONTWRITEBYTECODE (TensorFlow alone has thousands of modules).
  if ! uv pip sync --quiet --compile-bytecode --python "$tmp/bin/python" --link-mode copy "$lock"; then
    echo "setup: FAILED to install runtime '$profile' from $lock (see the resolver output above)" >&2
    exit 1
  fi
  echo "$key" > "$tmp/.tfpipe-complete"
  rm -rf "$target"
  mv "$tmp" "$target"
  trap - EXIT
  echo "setup: runtime '$profile' ready in $(( $(date +%s) - start ))s"
fi
ln -sfn "$target" "$link"
"$link/bin/python" -c "import sys; sys.exit(0)"
