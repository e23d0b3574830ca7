"""ExampleGen, Transform and the Bulk Inferrer on other Beam runners, chosen by ``beam_args``
alone: the in-memory direct runner, the direct runner in ``multi_processing`` mode, and the
portable runner against a local job service with an EXTERNAL SDK worker pool (the deployment shape
of Flink, Spark and Dataflow workers), both started here. Each must give the same examples and
statistics (ExampleGen, one file per Beam element), the same transform graph and transformed rows
(Transform) or the same prediction files (Bulk Inferrer) as the in-process default, and the
pipeline must complete on them."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from typing import Any

import pytest
from conftest import run_penguins, step

from tfpipe.components.artifacts import Examples, TransformGraph, open_artifact
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.execute import execute
from tfpipe.components.core.runtime import child_environment, interpreter
from tfpipe.components.core.tfrecord import read_records
from tfpipe.components.trainer.cluster import free_ports
from tfpipe.pipelines.engine import plan
from tfpipe.pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow

FAST = {"trainer.train_steps": 60, "evaluator.thresholds": {}}


def fingerprint_of_outputs(uri: str) -> dict[str, str]:
    """Digests of the transform graph's vocabulary files and the row counts per split."""
    graph = open_artifact(uri, TransformGraph)
    assets = {}
    for root, _dirs, files in os.walk(graph.graph_dir):
        for name in files:
            if "assets" in root:
                with open(os.path.join(root, name), "rb") as f:
                    assets[name] = hashlib.sha256(f.read()).hexdigest()[:16]
    return {**assets, **{f"rows:{k}": str(v) for k, v in graph.summary.get("rows", {}).items()}}


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory) -> tuple[str, dict[str, str]]:
    home = str(tmp_path_factory.mktemp("in_memory"))
    record = run_penguins(home, FAST)
    assert record["status"] == "succeeded", record
    return home, fingerprint_of_outputs(step(record, "transform")["uri"])


def test_multi_processing_direct_runner_gives_the_same_transform(in_memory, tmp_path):
    # A home of its own: the runner is not part of the fingerprint, so the in-memory run's home
    # would serve the cached transform.
    home, expected = str(tmp_path), in_memory[1]
    args = ["--runner=DirectRunner", "--direct_running_mode=multi_processing"]
    args.append("--direct_num_workers=2")
    record = run_penguins(home, {**FAST, "transform.beam_args": args})
    assert record["status"] == "succeeded", record
    transform = step(record, "transform")
    assert transform["status"] == "executed"
    assert fingerprint_of_outputs(transform["uri"]) == expected


@pytest.fixture(scope="module")
def portable_args(tmp_path_factory) -> list[str]:
    """A local Beam job service and an external SDK worker pool in the modern runtime; the
    options that send a pipeline to them."""
    logs = tmp_path_factory.mktemp("beam_services")
    job_port, pool_port = free_ports(2)
    python = interpreter("modern")
    env = child_environment("modern")
    # The SDK workers must run the runtime's Python (its venv first on PATH).
    env["PATH"] = os.pathsep.join([os.path.dirname(python), env.get("PATH", "")])
    services = [
        subprocess.Popen(
            [python, "-m", module, *flags],
            env=env,
            stdout=open(logs / f"{name}.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, module, flags in (
            (
                "job_service",
                "apache_beam.runners.portability.local_job_service_main",
                [f"--port={job_port}"],
            ),
            (
                "worker_pool",
                "apache_beam.runners.worker.worker_pool_main",
                [f"--service_port={pool_port}"],
            ),
        )
    ]
    try:
        wait_for_port(job_port)
        wait_for_port(pool_port)
        yield [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{pool_port}",
        ]
    finally:
        for service in services:
            os.killpg(service.pid, 9)
            service.wait()


def test_portable_runner_with_a_job_service_and_an_external_worker_pool(
    in_memory, portable_args, tmp_path
):
    home, expected = str(tmp_path), in_memory[1]
    record = run_penguins(home, {**FAST, "transform.beam_args": portable_args})
    assert record["status"] == "succeeded", record.get("error")
    transform = step(record, "transform")
    assert transform["status"] == "executed"
    assert fingerprint_of_outputs(transform["uri"]) == expected


# -- ExampleGen -------------------------------------------------------------------------------
MULTI_PROCESSING = [
    "--runner=DirectRunner",
    "--direct_running_mode=multi_processing",
    "--direct_num_workers=2",
]


@pytest.fixture(scope="module")
def three_files(tmp_path_factory, penguins_csv) -> str:
    """The penguins data in three files; the last one holds a fractional ``year``, so the column
    must be widened from int to float in every file's shards."""
    directory = tmp_path_factory.mktemp("three_files")
    with open(penguins_csv) as f:
        header, *rows = f.read().splitlines()
    year = header.split(",").index("year")
    last = rows[-1].split(",")
    last[year] = "2009.5"
    rows[-1] = ",".join(last)
    for i in range(3):
        (directory / f"part-{i}.csv").write_text("\n".join([header, *rows[i::3]]) + "\n")
    return str(directory / "part-*.csv")


def run_example_gen(home: str, data: str, beam_args: list[str] | None) -> Examples:
    overrides = {"example_gen.input": data, "example_gen.beam_args": beam_args or []}
    pipeline = load_pipeline("penguins", home).with_overrides(overrides)
    [inv] = [i for i in plan(pipeline, home) if i.step == "example_gen"]
    result = execute(inv, "beam-test")
    assert not result["cached"]
    return open_artifact(result["uri"], Examples)


def contents(examples: Examples) -> dict[str, list[bytes]]:
    """Every split's serialized examples, in a canonical order (shards may differ)."""
    return {
        split: sorted(
            record for path in examples.split_files(split) for record in read_records(path)
        )
        for split in examples.splits()
    }


def stats_digest(examples: Examples) -> dict[str, Any]:
    """What must not depend on the runner: rows per split, per-column counts, ranges, domains."""
    stats = examples.statistics()
    keep = ("count", "missing", "min", "max", "kind", "domain")
    return {
        split: {
            "rows": s["num_rows"],
            "columns": {
                name: {k: c.get(k) for k in keep} for name, c in sorted(s["columns"].items())
            },
        }
        for split, s in stats["splits"].items()
    }


@pytest.fixture(scope="module")
def in_process_examples(tmp_path_factory, three_files) -> Examples:
    return run_example_gen(str(tmp_path_factory.mktemp("eg_in_process")), three_files, None)


@pytest.mark.parametrize("runner", ["in_memory", "multi_processing", "portable"])
def test_example_gen_on_beam_runners_gives_the_same_examples_and_statistics(
    runner, in_process_examples, three_files, tmp_path, request
):
    args = {
        "in_memory": ["--runner=DirectRunner"],
        "multi_processing": MULTI_PROCESSING,
        "portable": request.getfixturevalue("portable_args") if runner == "portable" else [],
    }[runner]
    examples = run_example_gen(str(tmp_path), three_files, args)
    expected = in_process_examples
    assert examples.schema().to_json() == expected.schema().to_json()
    assert examples.schema().column("year").type == "float"  # widened in every file's shards
    assert contents(examples) == contents(expected)
    assert stats_digest(examples) == stats_digest(expected)
    # One shard per file and split, named side by side.
    assert [os.path.basename(f) for f in examples.split_files("train")] == [
        f"data-{i:05d}-of-00003.tfrecord" for i in range(3)
    ]
    assert examples.summary["rows"] == expected.summary["rows"] == 344
    # The runner is how, not what: the same artifact identity as the in-process path.
    assert examples.fingerprint == expected.fingerprint


def test_example_gen_on_beam_names_the_file_and_line_of_a_malformed_row(tmp_path, three_files):
    import glob
    import shutil

    for path in sorted(glob.glob(three_files)):
        shutil.copy(path, tmp_path)
    bad = tmp_path / "part-1.csv"
    lines = bad.read_text().splitlines()
    lines[5] += ",surplus"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputDataError, match=r"part-1\.csv.*(line|row) 6"):
        run_example_gen(str(tmp_path / "home"), str(tmp_path / "part-*.csv"), MULTI_PROCESSING)


# -- Bulk Inferrer ----------------------------------------------------------------------------
SCORING = {"bulk_inferrer.rows_per_shard": 100, "bulk_inferrer.batch_size": 50}


def score_penguins(serving_home: str, home: str, data: str, beam_args: list[str]) -> dict:
    """The scoring pipeline of the model ``serving_home`` serves, run with its own home (the
    runner is not part of the fingerprint: a shared home would find the artifact cached)."""
    from tfpipe.pipelines.local_runner import run_pipeline

    pipeline = load_pipeline("scoring:penguins", serving_home).with_overrides(
        {**SCORING, "data": data, "bulk_inferrer.beam_args": beam_args}
    )
    record = run_pipeline(pipeline, home)
    assert record["status"] == "succeeded", record.get("error")
    return record["steps"][0]


@pytest.fixture(scope="module")
def in_process_scores(in_memory, penguins_csv, tmp_path_factory) -> dict:
    return score_penguins(in_memory[0], str(tmp_path_factory.mktemp("scores")), penguins_csv, [])


@pytest.mark.parametrize("runner", ["multi_processing", "portable"])
def test_bulk_inferrer_on_beam_runners_writes_the_same_files(
    runner, in_memory, in_process_scores, penguins_csv, tmp_path, request
):
    from scoring_support import assert_predictions_match, read_output, read_rows, served_outputs

    from tfpipe.components.artifacts import ServingDirectory
    from tfpipe.pipelines.home import serving_base

    args = (
        MULTI_PROCESSING
        if runner == "multi_processing"
        else request.getfixturevalue("portable_args")
    )
    scored = score_penguins(in_memory[0], str(tmp_path), penguins_csv, args)
    assert scored["summary"]["runner"] == "beam" and scored["summary"]["shards"] == 4
    expected = open_artifact(in_process_scores["uri"])
    got = open_artifact(scored["uri"])
    assert [os.path.relpath(f, got.root) for f in got.files()] == [
        os.path.relpath(f, expected.root) for f in expected.files()
    ]
    table = read_output(got.root, "parquet")
    assert table.equals(read_output(expected.root, "parquet"))  # the same rows, bit for bit
    assert got.fingerprint == expected.fingerprint  # the runner is how, not what
    serving = ServingDirectory(serving_base(in_memory[0]), "penguins")
    rows = read_rows(penguins_csv)
    assert_predictions_match(table, served_outputs(serving.version_dir(serving.latest()), rows))
