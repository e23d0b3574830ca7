"""Never push over a newer model: a run evaluated against version N is not pushed once version
N+1 has appeared, and says why."""

from __future__ import annotations

import pytest
from conftest import run_penguins, step

from components.artifacts import ServingDirectory, write_model_card
from components.core.execute import execute
from pipelines.engine import plan
from pipelines.home import serving_base
from pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow


def test_a_model_evaluated_against_version_n_is_not_pushed_over_version_n_plus_1(tmp_path):
    home = str(tmp_path)
    first = run_penguins(home, {"trainer.train_steps": 200})
    assert step(first, "pusher")["summary"]["pushed"], first
    serving = ServingDirectory(serving_base(home), "penguins")
    version_n = serving.latest()

    # A second run, executed step by step so that another pipeline can push in between.
    pipeline = load_pipeline("penguins", home).with_overrides({"trainer.train_steps": 300})
    invocations = {inv.step: inv for inv in plan(pipeline, home)}
    for name in ("example_gen", "example_validator", "transform", "trainer", "evaluator"):
        result = execute(invocations[name], "second")
    assert result["summary"]["baseline_version"] == version_n

    # Meanwhile someone else publishes version N+1 (a model with another fingerprint).
    other = tmp_path / "other_model"
    import shutil

    shutil.copytree(serving.version_dir(version_n), other)
    write_model_card(str(other), {"model_fingerprint": "someone-else"}, "# other\n")
    version_n1 = serving.publish(str(other), expected_latest=version_n)

    pushed = execute(invocations["pusher"], "second")["summary"]
    assert pushed["pushed"] is False
    assert f"version {version_n1} was published" in pushed["reason"]
    assert f"version {version_n}" in pushed["reason"]
    assert serving.versions() == [version_n, version_n1]  # N+1 is still the one served
