"""The penguins pipeline with every artifact and the pushed model on an S3-compatible object store
(moto_server on 127.0.0.1): nothing under the home's artifacts, a kill between upload and manifest
leaves nothing visible, the served model is read back from the store, and a second worker with an
empty cache and its own home finds every step cached without importing TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO
from object_store_support import keys, moto_server

pytestmark = pytest.mark.slow

STORE = "s3://tfpipe/ml"


@pytest.fixture(scope="module")
def s3_env():
    with moto_server(("tfpipe",)) as env:
        yield env


def _tfpipe(env: dict[str, str], home: str, cache: str, **extra: str):
    full = {**os.environ, **env, "TFPIPE_STORE": STORE, "TFPIPE_CACHE": cache, **extra}
    return subprocess.run(
        [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "run", "penguins"],
        env=full,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _committed_steps(env: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in keys(env, "tfpipe", "ml/penguins/artifacts/"):
        _ml, _pipeline, _artifacts, step, fingerprint, *rest = key.split("/")
        if rest == ["manifest.json"]:
            found.setdefault(step, []).append(fingerprint)
    return found


def _payload_prefixes(env: dict[str, str], step: str) -> set[str]:
    return {
        key.split("/")[5]
        for key in keys(env, "tfpipe", f"ml/penguins/artifacts/{step}/")
        if key.split("/")[5].startswith("payload-")
    }


def test_a_pipeline_on_the_object_store_survives_a_kill_serves_from_it_and_caches_elsewhere(
    s3_env, tmp_path, monkeypatch
):
    home, cache = str(tmp_path / "worker1-home"), str(tmp_path / "worker1-cache")

    # Killed between the trainer's upload and its manifest: nothing of it is visible.
    killed = _tfpipe(s3_env, home, cache, TFPIPE_FAULT="commit:trainer")
    assert killed.returncode != 0
    assert "trainer" in killed.stdout + killed.stderr
    committed = _committed_steps(s3_env)
    # The data drop ExampleGen converted lives on the store too, for later windows to reuse.
    assert len(committed.pop("example_gen.drop")) == 1
    assert sorted(committed) == ["example_gen", "example_validator", "transform"]
    assert len(_payload_prefixes(s3_env, "trainer")) == 1  # the dead writer's upload, untrusted

    done = _tfpipe(s3_env, home, cache)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(3 executed, 3 cached)" in done.stdout
    committed = _committed_steps(s3_env)
    steps = ["example_gen", "example_validator", "transform", "trainer", "evaluator", "pusher"]
    # The blessed model's scores per eval shard, kept for the next run's baseline (one shard).
    assert len(committed.pop("evaluator.baseline")) == 1
    assert sorted(committed) == sorted(["example_gen.drop", *steps])
    assert all(len(v) == 1 for v in committed.values()), committed
    assert len(_payload_prefixes(s3_env, "trainer")) == 1  # the dead upload was removed
    # Artifacts live only in the store; the home keeps run records and reports.
    assert not os.path.exists(os.path.join(home, "penguins", "artifacts"))
    assert os.listdir(os.path.join(home, "penguins", "runs"))

    # The pushed model is in the store, in TF Serving's layout, and serves raw examples.
    from serving import served_accuracy

    from tfpipe.components.artifacts import ServingDirectory

    for name, value in {**s3_env, "TFPIPE_CACHE": str(tmp_path / "reader-cache")}.items():
        monkeypatch.setenv(name, value)
    serving = ServingDirectory.at(f"{STORE}/serving/penguins")
    [version] = serving.versions()
    assert f"ml/serving/penguins/{version}/saved_model.pb" in keys(s3_env, "tfpipe", "ml/serving/")
    examples_uri = f"{STORE}/penguins/artifacts/example_gen/{committed['example_gen'][0]}"
    accuracy = served_accuracy(serving.local_copy(version), examples_uri, "species")
    assert accuracy >= 0.9

    # A second worker: its own home, an empty cache, the same store. Every step is cached and
    # decided from manifests alone: no download, no TensorFlow (run by this interpreter, which
    # has TensorFlow: the assertion can fail).
    code = (
        "import sys; from tfpipe.pipelines.cli import main; "
        "rc = main(['--home', sys.argv[1], 'run', "
        "'penguins']); assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; "
        "sys.exit(rc)"
    )
    other_cache = str(tmp_path / "worker2-cache")
    env = {**os.environ, **s3_env, "TFPIPE_STORE": STORE, "TFPIPE_CACHE": other_cache}
    again = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "worker2-home")],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "all 6 steps cached: nothing to execute" in again.stdout
    assert not os.path.exists(os.path.join(other_cache, "objects"))


def test_data_landing_in_a_bucket_is_read_and_identified_by_its_etags(
    s3_env, tmp_path, monkeypatch, penguins_csv
):
    from conftest import run_penguins, step

    from tfpipe.components.artifacts import object_store

    for name, value in {**s3_env, "TFPIPE_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    with open(penguins_csv, "rb") as f:
        data = f.read()
    object_store.put_bytes("s3://tfpipe/landing/2026-11-24/penguins.csv", data)
    object_store.put_bytes("s3://tfpipe/landing/2026-11-24/README.txt", b"not data")
    home = str(tmp_path / "home")
    fast = {"trainer.train_steps": 100, "evaluator.thresholds": {}}
    pattern = "s3://tfpipe/landing/*/*.csv"

    first = run_penguins(home, {**fast, "example_gen.input": pattern})
    assert first["status"] == "succeeded", first.get("error")
    example_gen = step(first, "example_gen")
    assert example_gen["summary"]["rows"] == 344
    assert example_gen["summary"]["files"] == 1

    # The same bytes under another key: same content, so the same fingerprint (cached).
    object_store.delete("s3://tfpipe/landing/2026-11-24/penguins.csv")
    object_store.put_bytes("s3://tfpipe/landing/2026-11-25/penguins.csv", data)
    again = run_penguins(home, {**fast, "example_gen.input": pattern})
    assert step(again, "example_gen")["status"] == "cached"

    # A new drop beside it: read, and only then is ExampleGen run again.
    lines = data.decode().splitlines()
    object_store.put_bytes(
        "s3://tfpipe/landing/2026-11-26/penguins.csv", ("\n".join(lines[:101]) + "\n").encode()
    )
    grown = run_penguins(home, {**fast, "example_gen.input": pattern})
    assert step(grown, "example_gen")["status"] == "executed"
    assert step(grown, "example_gen")["summary"]["rows"] == 344 + 100

    nothing = run_penguins(home, {**fast, "example_gen.input": "s3://tfpipe/landing/none/*.csv"})
    assert nothing["status"] == "failed"
    assert "s3://tfpipe/landing/none/*.csv' matches no file" in nothing["error"]
