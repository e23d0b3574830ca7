"""A trainer's scratch on the object store: mirrored after each checkpoint, restored at start, so a
task retried on another host (another home and cache) resumes where the dead one stopped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import REPO
from object_store_support import client, keys, moto_server

from tfpipe.components.artifacts.scratch_mirror import ScratchMirror

STORE = "s3://tfpipe/ml"


@pytest.fixture(scope="module")
def s3_env():
    with moto_server(("tfpipe",)) as env:
        yield env


@pytest.fixture
def on_store(s3_env, monkeypatch, tmp_path):
    for name, value in {**s3_env, "TFPIPE_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    return s3_env


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_only_changed_files_are_uploaded_and_another_host_restores_the_latest(on_store, tmp_path):
    remote = "s3://tfpipe/unit/scratch/trainer/abc"
    first = str(tmp_path / "host1")
    mirror = ScratchMirror(first, remote, "trainer")
    _write(f"{first}/checkpoints/backup/ckpt-1.index", "index 1")
    _write(f"{first}/checkpoints/backup/checkpoint", 'model_checkpoint_path: "ckpt-1"')
    _write(f"{first}/checkpoints/epoch-0001.weights.h5", "w" * 1000)
    assert mirror.sync() == 3
    assert mirror.sync() == 0  # nothing changed: nothing sent

    # The next checkpoint: the backup rotates (ckpt-1 deleted), one epoch file is added.
    os.remove(f"{first}/checkpoints/backup/ckpt-1.index")
    _write(f"{first}/checkpoints/backup/ckpt-2.index", "index 2")
    _write(f"{first}/checkpoints/backup/checkpoint", 'model_checkpoint_path: "ckpt-2"')
    _write(f"{first}/checkpoints/epoch-0002.weights.h5", "v" * 1000)
    assert mirror.sync() == 3  # epoch-0001 is not sent again
    stored = sorted(k.split("abc/")[1] for k in keys(on_store, "tfpipe", "unit/"))
    assert stored == [
        "checkpoints/backup/checkpoint",
        "checkpoints/backup/ckpt-2.index",
        "checkpoints/epoch-0001.weights.h5",
        "checkpoints/epoch-0002.weights.h5",
    ]
    assert mirror.stats.as_dict()["deleted_files"] == 1

    # Another host, which had an older scratch of its own: the pointer file has the same size
    # but names another checkpoint; the store's bytes win.
    second = str(tmp_path / "host2")
    _write(f"{second}/checkpoints/backup/checkpoint", 'model_checkpoint_path: "ckpt-1"')
    other = ScratchMirror(second, remote, "trainer")
    assert other.restore() == 4
    with open(f"{second}/checkpoints/backup/checkpoint") as f:
        assert f.read() == 'model_checkpoint_path: "ckpt-2"'
    assert other.sync() == 0  # restored files are known: nothing to send back
    other.discard()
    assert keys(on_store, "tfpipe", "unit/") == []


def test_a_local_store_mirrors_nothing(tmp_path):
    mirror = ScratchMirror.for_artifact(str(tmp_path / "a" / "artifacts" / "trainer" / "f1"), "x")
    assert not mirror.active and mirror.restore() == 0 and mirror.sync() == 0


def _tfpipe(env: dict[str, str], home: str, cache: str, *sets: str, **extra: str):
    full = {**os.environ, **env, "TFPIPE_STORE": STORE, "TFPIPE_CACHE": cache, **extra}
    command = [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "run", "penguins"]
    for item in sets:
        command += ["--set", item]
    return subprocess.run(command, env=full, capture_output=True, text=True, timeout=900)


def _trainer_manifest(env: dict[str, str]) -> dict:
    s3 = client(env)
    [key] = [
        k
        for k in keys(env, "tfpipe", "ml/penguins/artifacts/trainer/")
        if k.endswith("/manifest.json")
    ]
    return json.loads(s3.get_object(Bucket="tfpipe", Key=key)["Body"].read())


# (extra settings, a file of the third sync, the step resumed from, syncs of the resumed run)
# Keras (here as a two-worker cluster): a sync after each epoch's checkpoints and one after the
# final weights: the third holds step 300; resumed, epochs 4-6 and the final weights. Estimator: a
# sync after each checkpoint, the first at the start (step 0): the third holds step 200; resumed,
# 200 again, then 300-600. A single-process Keras trainer resuming from the store is
# tests/test_hosts.py's killed worker host (a real retry on another network host).
BACKENDS = {
    "estimator": (
        (
            "runtime=estimator",
            "trainer.backend=estimator",
            "trainer.estimator=DNNClassifier",
            'trainer.hyperparameters={"hidden_units": [16, 8], "learning_rate": 0.05}',
        ),
        "estimator/model.ckpt-200.index",
        200,
        5,
    ),
    # A local two-worker cluster (tf-keras MultiWorkerMirrored): the chief task mirrors.
    "multi_worker": (("trainer.distribution=multi_worker",), "epoch-0003.weights.h5", 300, 4),
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_trainer_killed_on_one_host_resumes_on_another_from_the_store(s3_env, tmp_path, backend):
    extra, third, resumed, syncs = BACKENDS[backend]
    for key in keys(s3_env, "tfpipe", "ml/"):  # each backend from an empty store
        client(s3_env).delete_object(Bucket="tfpipe", Key=key)
    sets = ("trainer.train_steps=600", "evaluator.thresholds={}", *extra)
    home1, cache1 = str(tmp_path / "w1-home"), str(tmp_path / "w1-cache")
    # Killed (SIGKILL) right after its third checkpoint reached the store.
    killed = _tfpipe(s3_env, home1, cache1, *sets, TFPIPE_FAULT="scratch-mirrored:trainer:3")
    assert killed.returncode != 0 and "signal 9" in killed.stdout + killed.stderr
    scratch = keys(s3_env, "tfpipe", "ml/penguins/scratch/trainer/")
    assert any(k.endswith(third) for k in scratch), scratch
    # The host is lost: its home and cache are gone.
    shutil.rmtree(home1)
    shutil.rmtree(cache1)

    home2, cache2 = str(tmp_path / "w2-home"), str(tmp_path / "w2-cache")
    done = _tfpipe(s3_env, home2, cache2, *sets)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = _trainer_manifest(s3_env)["summary"]
    assert summary["resumed_from_step"] == resumed, summary  # the mirrored checkpoints were kept
    assert summary["steps"] == 600
    accuracy = summary["final"].get("val_accuracy", summary["final"].get("accuracy"))
    assert accuracy >= 0.9, summary["final"]
    mirrored = summary["scratch_mirror"]
    assert mirrored["restored_files"] >= 3 and mirrored["syncs"] == syncs, mirrored
    # Committed: the mirrored scratch is gone from the store.
    assert keys(s3_env, "tfpipe", "ml/penguins/scratch/trainer/") == []
    print("scratch mirror:", json.dumps(mirrored))
