"""Artifacts and serving versions on an S3-compatible object store (moto_server on 127.0.0.1):
the commit protocol (payload prefix, conditional manifest), the local cache, leases across
processes, and the serving directory's publish/prune/rollback over objects."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest
from object_store_support import keys, moto_server

from tfpipe.components.artifacts import (
    Examples,
    ServingDirectory,
    StaleBaseline,
    artifact_lock,
    is_committed,
    open_artifact,
    read_manifest,
    remove_stale_staging,
    staged,
)
from tfpipe.components.artifacts import object_store as objects
from tfpipe.components.artifacts.store import store_for

ROOT = "s3://tfpipe/store/demo/artifacts"


@pytest.fixture(scope="module")
def s3_env():
    with moto_server(("tfpipe",)) as env:
        yield env


@pytest.fixture
def s3(s3_env, monkeypatch, tmp_path):
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TFPIPE_CACHE", str(tmp_path / "cache"))
    return s3_env


def _write(artifact, text: str) -> None:
    path = artifact.path("splits", "train", "data.txt")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(text)


def test_a_commit_uploads_the_payload_then_a_manifest_naming_every_file(s3, tmp_path):
    uri = f"{ROOT}/example_gen/fp1"
    assert not is_committed(uri)
    with staged(uri, {"type": "Examples", "fingerprint": "fp1"}) as out:
        _write(out, "rows")
        assert not is_committed(uri)  # nothing visible until the manifest
    manifest = read_manifest(uri)
    assert manifest["fingerprint"] == "fp1"
    payload = manifest["payload"]
    assert payload["prefix"].startswith("payload-")
    assert payload["files"]["splits/train/data.txt"]["size"] == 4
    assert payload["files"]["splits/train/data.txt"]["etag"].strip('"')
    stored = keys(s3, "tfpipe", "store/demo/artifacts/example_gen/fp1/")
    assert sorted(stored) == sorted(
        [
            "store/demo/artifacts/example_gen/fp1/manifest.json",
            f"store/demo/artifacts/example_gen/fp1/{payload['prefix']}/splits/train/data.txt",
        ]
    )
    # No endpoint or credential in what was stored.
    assert s3["AWS_SECRET_ACCESS_KEY"] not in json.dumps(manifest)
    assert s3["TFPIPE_S3_ENDPOINT_URL"] not in json.dumps(manifest)
    # Another worker (an empty cache) downloads the payload and checks it.
    os.environ["TFPIPE_CACHE"] = str(tmp_path / "other-worker")
    examples = open_artifact(uri, Examples)
    assert examples.root.startswith(str(tmp_path / "other-worker"))
    with open(examples.path("splits", "train", "data.txt")) as f:
        assert f.read() == "rows"


def test_the_second_writer_of_a_uri_does_not_commit_and_leaves_no_payload(s3):
    uri = f"{ROOT}/transform/fp2"
    store = store_for(uri)
    with store.staging(uri) as first, store.staging(uri) as second:
        for staging, text in ((first, "first"), (second, "second")):
            with open(os.path.join(staging, "graph.txt"), "w") as f:
                f.write(text)
        assert store.commit(first, uri, {"type": "Artifact", "fingerprint": "fp2"}) is True
        assert store.commit(second, uri, {"type": "Artifact", "fingerprint": "fp2"}) is False
    payloads = {k.split("/")[5] for k in keys(s3, "tfpipe", "store/demo/artifacts/transform/fp2/")}
    assert payloads == {"manifest.json", read_manifest(uri)["payload"]["prefix"]}
    with open(open_artifact(uri).path("graph.txt")) as f:
        assert f.read() == "first"


def test_a_writer_killed_before_its_manifest_leaves_nothing_visible_and_is_cleaned(s3):
    uri = f"{ROOT}/trainer/fp3"
    objects.upload_tree(_dir_with_file("model.bin"), f"{uri}/payload-dead0001")
    assert not is_committed(uri)
    removed = remove_stale_staging(uri)
    assert removed == [f"{uri}/payload-dead0001"]
    assert keys(s3, "tfpipe", "store/demo/artifacts/trainer/fp3/") == []


def _dir_with_file(name: str) -> str:
    import tempfile

    directory = tempfile.mkdtemp()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(b"x" * 10)
    return directory


def test_an_object_changed_after_the_commit_is_refused_naming_it(s3, tmp_path):
    uri = f"{ROOT}/example_gen/fp4"
    with staged(uri, {"type": "Examples", "fingerprint": "fp4"}) as out:
        _write(out, "rows")
    prefix = read_manifest(uri)["payload"]["prefix"]
    objects.put_bytes(f"{uri}/{prefix}/splits/train/data.txt", b"tampered!")
    os.environ["TFPIPE_CACHE"] = str(tmp_path / "fresh")
    with pytest.raises(objects.ObjectStoreError, match=r"splits/train/data.txt does not match"):
        _ = open_artifact(uri).root


def _hold_lock(uri: str, env: dict[str, str], log: str, hold: float) -> None:
    os.environ.update(env)
    with artifact_lock(uri):
        with open(log, "a") as f:
            f.write(f"start {time.time()}\n")
        time.sleep(hold)
        with open(log, "a") as f:
            f.write(f"end {time.time()}\n")


def test_the_artifact_lease_serialises_two_processes(s3, tmp_path):
    uri = f"{ROOT}/evaluator/fp5"
    log = str(tmp_path / "log")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold_lock, args=(uri, s3, log, 1.5)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    events = [line.split() for line in open(log).read().splitlines()]
    assert [e[0] for e in events] == ["start", "end", "start", "end"]
    assert float(events[2][1]) >= float(events[1][1])  # the second started after the first ended
    assert keys(s3, "tfpipe", "store/demo/locks/") == []  # released


def test_a_lease_left_by_a_dead_holder_is_taken_over(s3, monkeypatch):
    monkeypatch.setattr(objects, "LEASE_SECONDS", 1.0)
    uri = "s3://tfpipe/store/demo/locks/x/stale.lock"
    body = json.dumps({"holder": "dead:1", "generation": 7}).encode()
    objects.put_bytes(uri, body)
    waited = []
    start = time.perf_counter()
    with objects.lease(uri, on_wait=lambda: waited.append(True)):
        assert json.loads(objects.get_bytes(uri))["holder"] != "dead:1"
    assert waited == [True]
    assert time.perf_counter() - start < 10
    assert objects.head(uri) is None


def test_an_unreachable_store_is_named_without_its_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("TFPIPE_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    monkeypatch.setattr(objects, "_client", objects._client.__wrapped__)
    with pytest.raises(objects.ObjectStoreError) as info:
        is_committed("s3://tfpipe/x/artifacts/a/b")
    message = str(info.value)
    assert "s3://tfpipe/x/artifacts/a/b" in message and "TFPIPE_S3_ENDPOINT_URL" in message
    assert "very-secret-value" not in message


def _saved_model(tmp_path, tag: str) -> str:
    model = tmp_path / f"model-{tag}"
    (model / "variables").mkdir(parents=True, exist_ok=True)
    (model / "saved_model.pb").write_bytes(f"graph {tag}".encode())
    (model / "variables" / "variables.index").write_bytes(b"index")
    return str(model)


def test_serving_versions_on_the_object_store_publish_cas_prune_and_rollback(s3, tmp_path):
    serving = ServingDirectory.at("s3://tfpipe/serving/m")
    assert type(serving).__name__ == "ObjectServingDirectory"
    assert serving.versions() == [] and serving.latest() is None
    v1 = serving.publish(_saved_model(tmp_path, "a"), expected_latest=None)
    with pytest.raises(StaleBaseline, match=f"version {v1} was published"):
        serving.publish(_saved_model(tmp_path, "b"), expected_latest=None)
    v2 = serving.publish(_saved_model(tmp_path, "b"), expected_latest=v1)
    assert serving.versions() == [v1, v2] and v2 > v1
    stored = keys(s3, "tfpipe", f"serving/m/{v2}/")
    assert sorted(stored) == [
        f"serving/m/{v2}/saved_model.pb",
        f"serving/m/{v2}/variables/variables.index",
    ]
    with open(os.path.join(serving.local_copy(v2), "saved_model.pb"), "rb") as f:
        assert f.read() == b"graph b"
    assert serving.identity(v1) != serving.identity(v2)
    moved, served = serving.rollback()
    assert (moved, served) == ([v2], v1)
    assert serving.versions() == [v1] and serving.rolled_back() == [v2]
    v3 = serving.publish(_saved_model(tmp_path, "c"), expected_latest=v1)
    assert v3 > v2  # never reuses a rolled-back version number
    assert serving.prune(keep_last=1) == [v1]
    assert serving.versions() == [v3]
    assert keys(s3, "tfpipe", f"serving/m/{v1}/") == []
    assert keys(s3, "tfpipe", "serving/m/.lock") == []


def test_a_live_lease_is_refreshed_and_not_taken_over(s3, monkeypatch):
    import threading

    monkeypatch.setattr(objects, "LEASE_SECONDS", 2.0)
    uri = "s3://tfpipe/store/demo/locks/x/live.lock"
    taken: list[float] = []

    def waiter() -> None:
        with objects.lease(uri):
            taken.append(time.time())

    with objects.lease(uri):
        first = json.loads(objects.get_bytes(uri))["generation"]
        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        time.sleep(4)  # twice the lease time: only a heartbeat keeps it
        assert json.loads(objects.get_bytes(uri))["generation"] > first
        assert taken == []
        released = time.time()
    thread.join(10)
    assert taken and taken[0] >= released


ESCAPE_KEY = "drops/../../../../../../../../tmp/tfpipe-escape/penguins.csv"
ESCAPED = "/tmp/tfpipe-escape/penguins.csv"


def test_object_keys_that_climb_out_are_refused_by_name_and_written_nowhere(
    s3, tmp_path, penguins_csv
):
    """The key from issue 25: matched by ``s3://landing/drops/*.csv``, it used to be downloaded
    to /tmp/tfpipe-escape/penguins.csv."""
    import boto3
    from conftest import example_gen_invocation

    from tfpipe.components.core.errors import InputDataError
    from tfpipe.components.core.execute import execute
    from tfpipe.components.example_gen.inputs import local_copies

    boto3.client(
        "s3",
        endpoint_url=s3["TFPIPE_S3_ENDPOINT_URL"],
        region_name="us-east-1",
    ).create_bucket(Bucket="landing")
    if os.path.exists(ESCAPED):
        os.remove(ESCAPED)
    uri = f"s3://landing/{ESCAPE_KEY}"
    objects.put_bytes(uri, open(penguins_csv, "rb").read())
    assert keys(s3, "landing") == [ESCAPE_KEY]  # the store keeps the key as it is

    store = str(tmp_path / "store")
    with pytest.raises(InputDataError) as planned:  # refused at planning, naming the object
        execute(example_gen_invocation(store, input="s3://landing/drops/*.csv"), "t")
    assert repr(ESCAPE_KEY) in str(planned.value) and "'..'" in str(planned.value)
    # A request that names the object anyway (frozen at planning elsewhere) is refused too.
    meta = objects.head(uri)
    with pytest.raises(InputDataError, match="not a plain relative path"):
        with local_copies([uri], {uri: {"size": meta["ContentLength"], "etag": meta["ETag"]}}, str):
            pass
    # A serving version holding such a key is not copied out of the cache either.
    serving = ServingDirectory.at("s3://tfpipe/serving/escape")
    objects.put_bytes("s3://tfpipe/serving/escape/7/saved_model.pb", b"graph")
    objects.put_bytes("s3://tfpipe/serving/escape/7/" + "../" * 30 + "tmp/tfpipe-escape/x", b"x")
    assert serving.versions() == [7]
    with pytest.raises(objects.UnsafeKey, match="not a plain relative path"):
        serving.local_copy(7)
    # ... nor a manifest whose payload prefix climbs out of the cache.
    artifact = f"{ROOT}/example_gen/climb"
    objects.put_bytes(
        f"{artifact}/manifest.json",
        json.dumps(
            {"type": "Examples", "payload": {"prefix": "../../../../x", "files": {}}}
        ).encode(),
    )
    with pytest.raises(objects.UnsafeKey):
        _ = open_artifact(artifact).root
    assert not os.path.exists(ESCAPED) and not os.path.exists("/tmp/tfpipe-escape/x")


def test_a_holder_whose_lease_was_taken_over_neither_frees_it_nor_goes_on(s3, monkeypatch):
    """Takeover then release: the new holder's lease stays; the old holder's heartbeat sees its
    If-Match refused and the holder raises instead of going on."""
    # Another worker judged the lease stale (say this one's heartbeats could not get through)
    # and took it over, as a waiter does: If-Match on the ETag it saw. Then the first holder
    # finishes and releases.
    uri = "s3://tfpipe/store/demo/locks/x/taken.lock"
    with pytest.raises(objects.ObjectStoreError, match="taken over"):
        with objects.lease(uri):
            taken = objects.put_bytes(
                uri, b'{"holder": "other"}', if_match=objects.head(uri)["ETag"]
            )
            assert taken
    assert json.loads(objects.get_bytes(uri)) == {"holder": "other"}  # not deleted by release

    # Taken over while held: the heartbeat notices and the holder stops at its next check.
    monkeypatch.setattr(objects, "LEASE_SECONDS", 0.4)  # a heartbeat every 0.1 s
    beaten = "s3://tfpipe/store/demo/locks/x/beaten.lock"
    with pytest.raises(objects.ObjectStoreError, match="taken over") as raised:
        with objects.lease(beaten) as held:
            objects.put_bytes(beaten, b'{"holder": "other"}', if_match=objects.head(beaten)["ETag"])
            time.sleep(0.5)  # a few heartbeats
            assert held.lost.is_set()
            held.check()  # what a serving change does before each step: it stops here
            raise AssertionError("not reached")
    assert "held by" in str(raised.value)
    assert json.loads(objects.get_bytes(beaten)) == {"holder": "other"}


SKEWED_HOLDER = """
import json, sys, time
real = time.time
time.time = lambda: real() + float(sys.argv[2])  # this process's clock is off by that much
sys.path.insert(0, sys.argv[1])
from tfpipe.components.artifacts import object_store as objects
objects.LEASE_SECONDS = 1.0
with objects.lease(sys.argv[3]):
    print(json.dumps({"acquired": real()}), flush=True)
    time.sleep(float(sys.argv[4]))
    print(json.dumps({"released": real()}), flush=True)
"""


@pytest.mark.parametrize("skew_hours", [-2, 2])
def test_a_skewed_clock_neither_loses_a_live_lease_nor_takes_one(s3, monkeypatch, skew_hours):
    """A holder whose clock is 2 h behind keeps its lease while it beats; a waiter whose clock
    is 2 h ahead does not take a live one: staleness is judged by the store's clock only."""
    import subprocess
    import sys

    from conftest import REPO

    monkeypatch.setattr(objects, "LEASE_SECONDS", 1.0)
    uri = f"s3://tfpipe/store/demo/locks/x/skew{skew_hours}.lock"
    env = {**os.environ, **s3}
    if skew_hours < 0:  # the skewed process holds the lease for 4 s; this one waits
        holder = subprocess.Popen(
            [sys.executable, "-c", SKEWED_HOLDER, REPO, str(skew_hours * 3600), uri, "4"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        acquired = json.loads(holder.stdout.readline())["acquired"]
        with objects.lease(uri):
            taken = time.time()
        released = json.loads(holder.stdout.readline())["released"]
        assert holder.wait(30) == 0
        assert acquired < released <= taken  # waited for the release, not 1 s of "staleness"
    else:  # this process holds it for 4 s; the skewed one waits
        with objects.lease(uri):
            waiter = subprocess.Popen(
                [sys.executable, "-c", SKEWED_HOLDER, REPO, str(skew_hours * 3600), uri, "0"],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            time.sleep(4)
            released = time.time()
        taken = json.loads(waiter.stdout.readline())["acquired"]
        assert waiter.wait(30) == 0
        assert taken >= released


def test_baseline_scores_are_kept_per_shard_content_on_the_object_store(s3, tmp_path, monkeypatch):
    """The Evaluator's kept baseline scores (``<step>.baseline``) by the artifact protocol: a
    later evaluation with another local cache reads them back and computes nothing."""
    import numpy as np

    from tfpipe.components.evaluator.baseline_cache import BaselineCache

    shard, same_rows, other = (tmp_path / n for n in ("a.tfrecord", "b.tfrecord", "c.tfrecord"))
    shard.write_bytes(b"rows")
    same_rows.write_bytes(b"rows")
    other.write_bytes(b"other rows")
    scores = np.arange(6, dtype=np.float32).reshape(3, 2)
    cache = BaselineCache(f"{ROOT}/evaluator/f1", {"model": "m1"})
    np.testing.assert_array_equal(cache.scores(str(shard), lambda: scores), scores)
    assert cache.uri(str(shard)).startswith(f"{ROOT}/evaluator.baseline/")
    assert is_committed(cache.uri(str(shard)))
    assert cache.counts() == {"baseline_rows_scored": 3, "baseline_rows_reused": 0}

    monkeypatch.setenv("TFPIPE_CACHE", str(tmp_path / "another_cache"))
    later = BaselineCache(f"{ROOT}/evaluator/f2", {"model": "m1"})
    for path in (shard, same_rows):  # the same rows elsewhere are the same shard
        kept = later.scores(str(path), lambda: pytest.fail("scored again"))
        np.testing.assert_array_equal(kept, scores)
        assert kept.dtype == np.float32
    assert later.counts() == {"baseline_rows_scored": 0, "baseline_rows_reused": 6}
    assert later.load(str(other)) is None
    assert BaselineCache(f"{ROOT}/evaluator/f2", {"model": "m2"}).load(str(shard)) is None
