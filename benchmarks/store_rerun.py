"""Cost of the object store: the example pipeline on a local store vs an S3-compatible one.

    .venvs/dev/bin/python benchmarks/store_rerun.py [--repeats 5]

For each store (the local filesystem; ``moto_server`` on 127.0.0.1 as the S3 endpoint) it times,
as whole ``bin/tfpipe run penguins`` processes: the first run (every step executed), the cached
re-runs of the same worker, and a cached run by a *fresh worker* (a new home and an empty cache,
object store only: everything is decided from manifests). Medians over ``--repeats``; one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from object_store_support import moto_server  # noqa: E402

TFPIPE = os.path.join(REPO, "bin", "tfpipe")


def timed_run(env: dict[str, str], home: str, cache: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [TFPIPE, "--home", home, "run", "penguins"],
        env={**env, "TFPIPE_CACHE": cache},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def measure(
    name: str, env: dict[str, str], repeats: int, tmp: str, shared: bool
) -> dict[str, float | str]:
    """``shared``: the store outlives the home (an object store), so a fresh worker can use it."""
    home, cache = os.path.join(tmp, f"{name}-home"), os.path.join(tmp, f"{name}-cache")
    first, _ = timed_run(env, home, cache)
    cached = []
    for _ in range(repeats):
        seconds, out = timed_run(env, home, cache)
        assert "all 6 steps cached" in out, out
        cached.append(seconds)
    fresh: list[float] = []
    for i in range(repeats if shared else 0):
        seconds, out = timed_run(
            env, os.path.join(tmp, f"{name}-fresh{i}"), os.path.join(tmp, f"{name}-fc{i}")
        )
        assert "all 6 steps cached" in out, out
        fresh.append(seconds)
    return {
        "store": name,
        "first run s": round(first, 2),
        "cached re-run s": round(statistics.median(cached), 2),
        "cached, fresh worker s": round(statistics.median(fresh), 2) if fresh else "n/a",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfpipe-storebench-") as tmp:
        base = {k: v for k, v in os.environ.items() if k != "TFPIPE_STORE"}
        rows.append(measure("local", base, args.repeats, tmp, shared=False))
        with moto_server(("tfpipe",)) as s3:
            env = {**base, **s3, "TFPIPE_STORE": "s3://tfpipe/bench"}
            rows.append(measure("s3 (moto_server)", env, args.repeats, tmp, shared=True))
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
