#!/usr/bin/env bash
# Install uv (the installer of the locked environments) when it is missing. Called once before
# runtimes are built side by side, so two builds never install it at the same time.
set -euo pipefail
python_bin="${TFPIPE_PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null || python_bin=python3
if ! command -v uv >/dev/null; then
  echo "setup: installing uv (the installer used for the locked environments)" >&2
  "$python_bin" -m pip install --quiet "uv==0.13.9"
fi
