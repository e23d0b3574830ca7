"""``python -m tfpipe.components <name>``: the one CLI that Airflow tasks and cluster pods run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO


def component(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.run(
        [sys.executable, "-m", "tfpipe.components", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def test_component_cli_runs_then_reuses_by_fingerprint(tmp_path, penguins_csv):
    args = [
        "example_gen",
        "--params",
        json.dumps({"input": penguins_csv}),
        "--artifacts-root",
        str(tmp_path),
    ]
    first = component(*args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout.strip().splitlines()[-1])
    assert result["ok"] and not result["cached"] and result["summary"]["rows"] == 344
    assert result["uri"] == os.path.join(str(tmp_path), "example_gen", result["fingerprint"])
    second = json.loads(component(*args).stdout.strip().splitlines()[-1])
    assert second["cached"] and second["uri"] == result["uri"]


def test_component_cli_reports_errors_as_json_and_exit_code(tmp_path):
    proc = component(
        "transform",
        "--params",
        "{}",
        "--input",
        f"examples={tmp_path}/none",
        "--artifacts-root",
        str(tmp_path),
    )
    assert proc.returncode == 1
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] is False and "no committed artifact" in result["error"]


def test_schema_subcommand_prints_the_parameter_json_schema():
    proc = component("schema", "trainer")
    schema = json.loads(proc.stdout)
    assert "train_steps" in schema["properties"] and "module_file" in schema["required"]
