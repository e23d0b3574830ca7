"""``tfpipe runs / show / report`` pick the run a user means, and the validator's words are true.

A two-step pipeline (ExampleGen → ExampleValidator, no TensorFlow) keeps these fast."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

PIPELINE = """
from tfpipe import Pipeline, Step

def build(home):
    return Pipeline(
        name="{name}",
        steps=(
            Step("example_gen", "example_gen", params={{"input": "{data}"}}),
            Step("example_validator", "example_validator", inputs={{"examples": "example_gen"}}),
        ),
    )
"""


def tfpipe(home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfpipe", "--home", str(home), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin", "HOME": str(home)},
    )


def test_latest_is_per_pipeline_skips_runs_refused_at_planning_and_says_which(
    tmp_path, penguins_csv
):
    home = tmp_path / "home"
    files = {}
    for name in ("alpha", "beta"):
        files[name] = tmp_path / f"{name}.py"
        files[name].write_text(PIPELINE.format(name=name, data=penguins_csv))
    first = tfpipe(home, "run", str(files["alpha"]))
    assert first.returncode == 0, first.stdout + first.stderr
    # Without a contract the validator says that nothing was checked, and where to start one.
    assert "no contract: nothing checked" in first.stdout
    assert "inferred_schema.pbtxt" in first.stdout and "example_gen.schema_file" in first.stdout
    assert "no anomalies" not in first.stdout
    assert tfpipe(home, "run", str(files["beta"])).returncode == 0
    refused = tfpipe(home, "run", str(files["alpha"]), "--set", "example_gen.shards=-1")
    assert refused.returncode == 1 and "shards" in refused.stdout

    shown = tfpipe(home, "show", "latest", "alpha")
    assert shown.returncode == 0, shown.stderr
    alpha_run = first.stdout.strip().splitlines()[-1].split()[1]
    assert f"latest run of pipeline 'alpha': {alpha_run}" in shown.stdout
    assert "1 newer run(s) refused at planning skipped" in shown.stdout
    assert "example_validator" in shown.stdout
    beta = tfpipe(home, "show", "latest", "beta")
    assert "pipeline 'beta'" in beta.stdout and "refused" not in beta.stdout
    listed = tfpipe(home, "runs", "beta")
    assert "beta" in listed.stdout and "alpha" not in listed.stdout
