"""ExampleGen alone at several sizes: CPU seconds and rows/s, to find costs that grow faster than
the data.

    .venvs/dev/bin/python benchmarks/example_gen_bench.py --sizes 1000000,4000000 --repeats 3 \
        [--copy-of data.csv]

Data: ``benchmarks/taxi_data.py --export`` (the taxi columns plus a raw export's high-cardinality
text columns: a unique 40-hex trip key, 128-hex taxi ids, timestamps with seconds, location text,
long-tailed free text), or ``--copy-of FILE``: a CSV's data rows repeated up to each size (e.g.
TFX's 15k-row Chicago taxi sample, ``tfx/examples/chicago_taxi_pipeline/data/simple/data.csv``;
fields must not hold line breaks). Each run is a fresh process on the modern runtime that resolves
and executes the ExampleGen step into an empty store and reports the CPU seconds (user + system)
of its own process around the step: on a shared, busy machine that holds better than wall time.
Sizes are interleaved within each repeat; figures are medians. The last lines give the growth
exponent of CPU seconds between consecutive sizes (1.0 = linear). ``--stages`` adds the CPU time
(user + system, of the step's thread) per row of each stage: reading, split hash, statistics,
tf.Example encoding, TFRecord framing and writing, and the rest.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODERN = os.path.join(REPO, ".venvs", "modern", "bin", "python")


STAGES = {  # stage: (module, attribute) whose calls are timed
    "read": ("readers", "CsvSource.batches"),
    "hash": ("streaming_pass", "row_hash"),
    "statistics": ("stats", "SplitStats.add"),
    "encode": ("streaming_pass", "encode_examples"),
    "frame+write": ("tfrecord", "TFRecordWriter.write_many"),
}


def thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def time_stages() -> dict[str, float]:
    """Wrap each stage's function (a generator: each step of it) to add its thread CPU time."""
    import importlib
    import inspect

    spent = dict.fromkeys(STAGES, 0.0)
    for stage, (module_name, attribute) in STAGES.items():
        package = "core" if module_name == "tfrecord" else "example_gen"
        module = importlib.import_module(f"tfpipe.components.{package}.{module_name}")
        owner_name, _, name = attribute.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        function = getattr(owner, name)

        def timed(*args, _f=function, _stage=stage, **kwargs):
            start = thread_cpu()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_stage] += thread_cpu() - start

        def timed_steps(*args, _f=function, _stage=stage, **kwargs):
            steps = _f(*args, **kwargs)
            while True:
                start = thread_cpu()
                try:
                    item = next(steps)
                except StopIteration:
                    return
                finally:
                    spent[_stage] += thread_cpu() - start
                yield item

        setattr(owner, name, timed_steps if inspect.isgeneratorfunction(function) else timed)
    return spent


def child(data: str, store: str, stages: bool) -> None:
    """Run the step in this process; print rows, shards and this process's CPU for the step."""
    sys.path.insert(0, REPO)
    from tfpipe.components.artifacts import Examples, open_artifact
    from tfpipe.components.core.execute import execute, resolve

    spent = time_stages() if stages else {}

    invocation = resolve(
        component="example_gen",
        step="example_gen",
        raw_params={"input": data},
        input_uris={},
        input_fingerprints={},
        runtime="modern",
        artifacts_root=store,
    )
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    thread_before = thread_cpu()
    result = execute(invocation, "example_gen_bench")
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
    if spent:
        spent["rest"] = thread_cpu() - thread_before - sum(spent.values())
    examples = open_artifact(result["uri"], Examples)
    summary = result["summary"]
    print(
        json.dumps(
            {
                "rows": summary["rows"],
                "shards": sum(len(examples.split_files(s)) for s in summary["splits"]),
                "user": after.ru_utime - before.ru_utime,
                "sys": after.ru_stime - before.ru_stime,
                "wall": wall,
                "stages": spent,
            }
        )
    )


def data_file(rows: int, directory: str, copy_of: str | None) -> str:
    if copy_of:
        base = os.path.splitext(os.path.basename(copy_of))[0]
        path = os.path.join(directory, f"copy-{base}-{rows}.csv")
        if not os.path.exists(path):
            _repeat(copy_of, rows, path)
        return path
    path = os.path.join(directory, f"taxi-export-{rows}.csv")
    if not os.path.exists(path):
        script = os.path.join(REPO, "benchmarks", "taxi_data.py")
        subprocess.run(
            [MODERN, script, "--rows", str(rows), "--out", path + ".part", "--export"], check=True
        )
        os.replace(path + ".part", path)
    return path


def _repeat(source: str, rows: int, path: str) -> None:
    """The header of ``source``, then its data lines over and over: ``rows`` lines in all."""
    with open(source, "rb") as f:
        header, *body = f.read().splitlines(keepends=True)
    if body and not body[-1].endswith(b"\n"):
        body[-1] += b"\n"
    with open(path + ".part", "wb") as out:
        out.write(header)
        block = b"".join(body)
        for _ in range(rows // len(body)):
            out.write(block)
        out.writelines(body[: rows % len(body)])
    os.replace(path + ".part", path)


def one_run(data: str, stages: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-egbench-") as store:
        proc = subprocess.run(
            [MODERN, os.path.abspath(__file__), "--child", data, store]
            + (["--stages"] if stages else []),
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise SystemExit(f"ExampleGen failed on {data}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,4000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copy-of", help="repeat this CSV's rows instead of generating data")
    parser.add_argument(
        "--data-dir",
        default=os.path.expanduser("~/.cache/tfpipe/bench-data"),
        help="generated CSVs are kept here between runs",
    )
    parser.add_argument("--stages", action="store_true", help="CPU µs per row of each stage")
    parser.add_argument("--child", nargs=2, metavar=("DATA", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.stages)
        return
    os.makedirs(args.data_dir, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    files = {size: data_file(size, args.data_dir, args.copy_of) for size in sizes}
    runs: dict[int, list[dict]] = {size: [] for size in sizes}
    for i in range(args.repeats):  # interleaved: every size sees the same machine
        for size in sizes:
            run = one_run(files[size], args.stages)
            runs[size].append(run)
            print(
                f"  {size:,} rows, repeat {i + 1}/{args.repeats}: "
                f"{run['user'] + run['sys']:.1f} CPU-s, {run['wall']:.1f} s wall",
                file=sys.stderr,
                flush=True,
            )
    print(f"\nExampleGen on {args.copy_of or 'taxi_data.py --export'}: medians of {args.repeats}\n")
    header = ["rows", "input MB", "shards", "CPU s", "CPU µs/row", "rows per CPU-s", "wall s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    cpu = {s: statistics.median(r["user"] + r["sys"] for r in runs[s]) for s in sizes}
    for size in sizes:
        rows = runs[size][0]["rows"]
        cells = [
            f"{rows:,}",
            f"{os.path.getsize(files[size]) / 1e6:,.0f}",
            str(runs[size][0]["shards"]),
            f"{cpu[size]:.1f}",
            f"{1e6 * cpu[size] / rows:.2f}",
            f"{rows / cpu[size]:,.0f}",
            f"{statistics.median(r['wall'] for r in runs[size]):.1f}",
        ]
        print("| " + " | ".join(cells) + " |")
    if args.stages:
        print("\nCPU µs per row of each stage (thread CPU, medians):\n")
        names = list(runs[sizes[0]][0]["stages"])
        print("| rows | " + " | ".join(names) + " |")
        print("|" + "---|" * (len(names) + 1))
        for size in sizes:
            rows = runs[size][0]["rows"]
            cells = [statistics.median(r["stages"][n] for r in runs[size]) for n in names]
            print(f"| {rows:,} | " + " | ".join(f"{1e6 * c / rows:.2f}" for c in cells) + " |")
    for small, large in itertools.pairwise(sizes):
        exponent = math.log(cpu[large] / cpu[small]) / math.log(large / small)
        print(f"CPU-s growth exponent {small:,} → {large:,} rows: {exponent:.2f}")


if __name__ == "__main__":
    main()
