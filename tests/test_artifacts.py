"""The artifact contract: manifest written last, atomic commit, nothing visible on failure."""

from __future__ import annotations

import json
import os
import threading

import pytest

from components.core.artifacts import (
    ArtifactNotCommitted,
    is_committed,
    read_artifact,
    remove_stale_staging,
    staged_artifact,
)


def test_commit_makes_payload_and_manifest_visible_together(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    with staged_artifact(uri, {"type": "T", "fingerprint": "abc"}) as (staging, manifest):
        open(os.path.join(staging, "payload.txt"), "w").write("data")
        assert not os.path.exists(uri)  # nothing visible while writing
        manifest["summary"] = {"rows": 3}
    artifact = read_artifact(uri)
    assert artifact.summary == {"rows": 3} and artifact.type == "T"
    assert open(artifact.path("payload.txt")).read() == "data"
    assert "committed_at" in artifact.manifest


def test_failure_leaves_nothing_behind(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    with pytest.raises(RuntimeError):
        with staged_artifact(uri, {"type": "T", "fingerprint": "abc"}) as (staging, _):
            open(os.path.join(staging, "half.txt"), "w").write("half")
            raise RuntimeError("crash mid-write")
    assert os.listdir(tmp_path / "step") == []
    with pytest.raises(ArtifactNotCommitted, match="no committed artifact"):
        read_artifact(uri)


def test_a_killed_writer_leaves_only_a_staging_dir_that_is_ignored_and_cleaned(tmp_path):
    uri = str(tmp_path / "step" / "abc")
    os.makedirs(uri + ".staging-deadbeef")  # what a SIGKILL mid-write leaves
    assert not is_committed(uri)
    remove_stale_staging(uri)
    assert os.listdir(tmp_path / "step") == []


def test_concurrent_writers_of_one_fingerprint_commit_exactly_once(tmp_path):
    uri = str(tmp_path / "step" / "same")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with staged_artifact(uri, {"type": "T", "fingerprint": "same"}) as (staging, _m):
                open(os.path.join(staging, "who"), "w").write(str(i))
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
