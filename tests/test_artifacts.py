"""The artifact contract: manifest written last, atomic commit, nothing visible on failure, and
only dead writers' leftovers cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO

from tfpipe.components.artifacts import (
    ArtifactNotCommitted,
    is_committed,
    open_artifact,
    remove_stale_staging,
    staged,
)


def test_commit_makes_payload_and_manifest_visible_together(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    with staged(uri, {"type": "T", "fingerprint": "abc"}) as out:
        open(out.path("payload.txt"), "w").write("data")
        assert not os.path.exists(uri)  # nothing visible while writing
        out.manifest["summary"] = {"rows": 3}
    artifact = open_artifact(uri)
    assert artifact.summary == {"rows": 3} and artifact.type == "T"
    assert open(artifact.path("payload.txt")).read() == "data"
    assert "committed_at" in artifact.manifest
    assert sorted(os.listdir(uri)) == ["manifest.json", "payload.txt"]  # no lease left behind


def test_failure_leaves_nothing_behind(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    with pytest.raises(RuntimeError):
        with staged(uri, {"type": "T", "fingerprint": "abc"}) as out:
            open(out.path("half.txt"), "w").write("half")
            raise RuntimeError("crash mid-write")
    assert os.listdir(tmp_path / "step") == []
    with pytest.raises(ArtifactNotCommitted, match="no committed artifact"):
        open_artifact(uri)


WRITER = """
import sys, time
from tfpipe.components.artifacts import staged
with staged(sys.argv[1], {"type": "T", "fingerprint": "abc"}) as out:
    open(out.path("part"), "w").write("x")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_killed_writers_staging_is_cleaned_but_a_live_writers_is_not(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    env = {**os.environ, "PYTHONPATH": REPO}
    live = subprocess.Popen(
        [sys.executable, "-c", WRITER, uri], stdout=subprocess.PIPE, text=True, env=env
    )
    dead = subprocess.Popen(
        [sys.executable, "-c", WRITER, uri], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert live.stdout.readline().strip() == "writing"
        assert dead.stdout.readline().strip() == "writing"
        dead.kill()  # SIGKILL mid-write: its staging directory stays behind
        dead.wait()
        assert len(os.listdir(tmp_path / "step")) == 2
        assert not is_committed(uri)
        removed = remove_stale_staging(uri)
        assert len(removed) == 1  # only the dead writer's
        remaining = os.listdir(tmp_path / "step")
        assert len(remaining) == 1 and os.path.exists(tmp_path / "step" / remaining[0] / "part")
    finally:
        live.kill()
        live.wait()
    assert len(remove_stale_staging(uri)) == 1  # now that one is dead too
    assert os.listdir(tmp_path / "step") == []


def test_a_staging_dir_without_a_lease_is_kept_while_young(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    young = tmp_path / "step" / "abc.staging-young"
    old = tmp_path / "step" / "abc.staging-old"
    young.mkdir(parents=True)
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert [os.path.basename(p) for p in remove_stale_staging(uri)] == ["abc.staging-old"]
    assert os.listdir(tmp_path / "step") == ["abc.staging-young"]


def test_concurrent_writers_of_one_fingerprint_commit_exactly_once(tmp_path):
    uri = str(tmp_path / "step" / "same")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with staged(uri, {"type": "T", "fingerprint": "same"}) as out:
                open(out.path("who"), "w").write(str(i))
                barrier.wait()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert os.listdir(tmp_path / "step") == ["same"]
    assert json.load(open(os.path.join(uri, "manifest.json")))["fingerprint"] == "same"
