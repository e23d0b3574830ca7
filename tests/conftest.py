"""Shared fixtures: a penguins CSV, temporary homes, and one full pipeline run per session."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfpipe.components.core.runtime import apply_runtime_environment  # noqa: E402

# Tests run components in-process (the dev environment holds the modern runtime's packages):
# set the modern runtime's TensorFlow switches before anything imports TensorFlow.
apply_runtime_environment("modern")

from tfpipe.pipelines.local_runner import run_pipeline  # noqa: E402
from tfpipe.pipelines.penguins.pipeline import default_data  # noqa: E402
from tfpipe.pipelines.registry import load_pipeline  # noqa: E402


@pytest.fixture(scope="session")
def penguins_csv() -> str:
    path = default_data()
    assert os.path.isfile(path), path
    return path


def run_penguins(home: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    pipeline = load_pipeline("penguins", home).with_overrides(overrides or {})
    return run_pipeline(pipeline, home, overrides=overrides)


@pytest.fixture(scope="session")
def modern_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The penguins pipeline, end to end on the modern runtime, shared by the tests that read it."""
    home = str(tmp_path_factory.mktemp("home_modern"))
    record = run_penguins(home)
    assert record["status"] == "succeeded", record
    return home, record


def example_gen_invocation(artifacts_root: str, **params: Any) -> Any:
    """The ExampleGen step alone, resolved (validated, fingerprinted) on the modern runtime."""
    return component_invocation("example_gen", artifacts_root, **params)


def component_invocation(component: str, artifacts_root: str, **params: Any) -> Any:
    """One component's step alone, without inputs, resolved (validated, fingerprinted, its
    external inputs frozen) on the modern runtime."""
    from tfpipe.components.core.execute import resolve

    return resolve(
        component=component,
        step=component,
        raw_params=params,
        input_uris={},
        input_fingerprints={},
        runtime="modern",
        artifacts_root=artifacts_root,
    )


def tfpipe(*args: str, home: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real ``tfpipe`` command line, in a fresh process."""
    proc = subprocess.run(
        [os.path.join(REPO, "bin", "tfpipe"), "--home", home, *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tfpipe {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def step(record: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in record["steps"] if s["step"] == name)
