"""Fast unit tests of the pure logic a refactor could break: trainer decision, cluster config,
hash splitting, schema checks, fingerprints, runtime identities, serving versions, run records."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import REPO

from components.artifacts import ServingDirectory, StaleBaseline
from components.core.errors import InputDataError, ParameterError
from components.core.fingerprint import content_digests, data_digest, digest
from components.core.runtime import pinned_packages, runtime_identity
from components.core.schema import Schema, SchemaBuilder, check_against
from components.core.user_code import module_digest
from components.example_gen.run import HashSplitter
from components.trainer.cluster_config import ClusterConfig
from components.trainer.decision import decide
from components.trainer.params import TrainerParams
from pipelines.runs import RunLog, safe_run_id


def params(**kw) -> TrainerParams:
    return TrainerParams(module_file="m.py", **kw)


def cluster(roles: dict[str, int], task: str = "chief", index: int = 0) -> ClusterConfig:
    spec = {r: [f"127.0.0.1:{1000 + i}" for i in range(n)] for r, n in roles.items()}
    return ClusterConfig.from_env(
        {"TF_CONFIG": json.dumps({"cluster": spec, "task": {"type": task, "index": index}})}
    )


# -- trainer decision ---------------------------------------------------------------------------
def test_auto_without_distribution_trains_keras_in_process():
    d = decide(params(backend="auto"), "estimator", ClusterConfig())
    assert (d.backend, d.converted, d.cluster) == ("keras", False, {})


def test_auto_distributed_converts_on_the_estimator_runtime_only():
    p = params(backend="auto", distribution="multi_worker", num_workers=3)
    on_estimator = decide(p, "estimator", ClusterConfig())
    assert on_estimator.backend == "estimator" and on_estimator.converted
    assert on_estimator.cluster == {"chief": 1, "worker": 2}
    on_modern = decide(p, "modern", ClusterConfig())
    assert on_modern.backend == "keras" and not on_modern.converted
    assert "MultiWorkerMirroredStrategy" in on_modern.reason


def test_parameter_servers_fall_back_to_multi_worker_without_estimators():
    d = decide(params(backend="auto", distribution="parameter_server"), "modern", ClusterConfig())
    assert d.distribution == "multi_worker" and "ps" not in d.cluster
    assert "instead of parameter servers" in d.reason
    p = params(backend="auto", distribution="parameter_server")
    e = decide(p, "estimator", ClusterConfig())
    assert e.cluster == {"chief": 1, "worker": 1, "ps": 1}


def test_an_external_tf_config_decides_the_distribution_and_starts_no_local_cluster():
    c = cluster({"chief": 1, "worker": 1, "ps": 1}, task="worker")
    d = decide(params(backend="auto"), "estimator", c)
    assert d.distribution == "parameter_server" and d.external_tf_config and not d.cluster
    assert "TF_CONFIG names a cluster" in d.reason


def test_cluster_config_knows_the_chief_and_a_stable_identity():
    assert ClusterConfig().is_chief and not ClusterConfig().is_cluster
    assert cluster({"chief": 1, "worker": 2}).is_chief
    assert not cluster({"chief": 1, "worker": 2}, "worker", 0).is_chief
    assert cluster({"worker": 2}, "worker", 0).is_chief  # worker 0 leads a chief-less cluster
    a, b = cluster({"chief": 1, "worker": 1}), cluster({"chief": 1, "worker": 1}, "worker")
    assert a.identity() == b.identity() != cluster({"chief": 1, "worker": 2}).identity()
    with pytest.raises(ParameterError, match="TF_CONFIG is not valid JSON"):
        ClusterConfig.from_env({"TF_CONFIG": "{nope"})


def test_trainer_parameters_refuse_impossible_combinations():
    with pytest.raises(ValueError, match="multiple of steps_per_epoch"):
        params(train_steps=250, steps_per_epoch=100)
    with pytest.raises(ValueError, match="needs 'estimator'"):
        params(backend="estimator")
    with pytest.raises(ParameterError, match="needs the 'estimator' runtime"):
        params(backend="estimator", estimator="DNNClassifier").validate_for_runtime("modern")


# -- ExampleGen's hash split and the schema -----------------------------------------------------
def test_hash_split_is_stable_and_follows_ratios():
    splitter = HashSplitter({"train": 0.8, "eval": 0.2}, ["id"])
    rows = [{"id": str(i)} for i in range(20_000)]
    first = [splitter(r) for r in rows]
    assert first == [splitter(r) for r in rows]  # same row, same split, always
    share = first.count("eval") / len(first)
    assert 0.18 < share < 0.22


def test_schema_builder_widens_types_and_caps_domains():
    b = SchemaBuilder(["n", "s"], max_domain_size=3)
    for n, s in [("1", "a"), ("2.5", "b"), (None, "c"), ("4", "d")]:
        b.add({"n": n, "s": s})
    schema = b.build()
    n, s = schema.column("n"), schema.column("s")
    assert (n.type, n.min, n.max, n.missing, n.count) == ("float", 1.0, 4.0, 1, 3)
    assert s.type == "string" and s.domain is None  # 4 values > max_domain_size
    assert Schema.from_json(schema.to_json()).to_json() == schema.to_json()


def test_schema_check_names_missing_extra_and_widened_columns():
    expected = Schema.from_json(
        {"columns": [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}
    )
    actual = Schema.from_json(
        {"columns": [{"name": "a", "type": "float", "count": 3}, {"name": "c", "type": "int"}]}
    )
    with pytest.raises(InputDataError) as err:
        check_against(actual, expected, "input 'x.csv'", "schema.json")
    message = str(err.value)
    assert "missing column(s) ['b']" in message and "unexpected column(s) ['c']" in message
    assert "'a' has fractional values" in message


# -- fingerprints and runtimes ------------------------------------------------------------------
def test_data_digest_follows_content_not_place_or_mtime(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_CACHE", str(tmp_path / "cache"))
    a = tmp_path / "a.csv"
    a.write_text("x\n1\n")
    first = data_digest([str(a)])
    moved = tmp_path / "sub" / "b.csv"
    moved.parent.mkdir()
    shutil.copy(a, moved)
    assert data_digest([str(moved)]) == first
    os.utime(a, (1, 1))
    assert data_digest([str(a)]) == first
    a.write_text("x\n2\n")
    assert data_digest([str(a)]) != first
    assert set(content_digests([str(a)])) == {str(a)}


def test_module_digest_covers_the_modules_it_imports(tmp_path):
    (tmp_path / "helpers.py").write_text("K = 1\n")
    main = tmp_path / "main.py"
    main.write_text("from helpers import K\nimport json\n")
    before = module_digest(str(main), "trainer")
    (tmp_path / "helpers.py").write_text("K = 2\n")
    assert module_digest(str(main), "trainer") != before
    with pytest.raises(Exception, match="does not exist"):
        module_digest(str(tmp_path / "nope.py"), "trainer")


def _locks(tmp_path, replace: tuple[str, str] | None = None, extra: str = "") -> str:
    locks = tmp_path / "locks"
    shutil.copytree(os.path.join(REPO, "infra", "runtimes"), locks, dirs_exist_ok=True)
    path = locks / "modern.lock"
    text = path.read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path.write_text(text + extra)
    return str(locks)


def test_runtime_identity_ignores_dev_tools_and_comments_but_not_tensorflow(tmp_path, monkeypatch):
    runtime_identity.cache_clear()
    base = runtime_identity("modern")
    try:
        monkeypatch.setenv("TFPIPE_LOCKS", _locks(tmp_path / "a", extra="ruff==0.0.1\n# note\n"))
        runtime_identity.cache_clear()
        assert runtime_identity("modern") == base
        bumped = _locks(tmp_path / "b", replace=("tensorflow==2.21.0", "tensorflow==2.21.1"))
        monkeypatch.setenv("TFPIPE_LOCKS", bumped)
        runtime_identity.cache_clear()
        assert runtime_identity("modern") != base
    finally:
        runtime_identity.cache_clear()
    pins = pinned_packages(os.path.join(REPO, "infra", "runtimes", "modern.lock"))
    assert "tensorflow==2.21.0" in pins and not any(p.startswith("apache-airflow") for p in pins)


def test_digest_is_order_independent_for_mappings():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})


# -- serving versions ---------------------------------------------------------------------------
def _saved_model(tmp_path, name: str) -> str:
    path = tmp_path / name
    path.mkdir()
    (path / "saved_model.pb").write_text(name)
    return str(path)


def test_publish_is_a_compare_and_swap_and_prune_keeps_the_newest(tmp_path):
    serving = ServingDirectory(str(tmp_path / "serving"), "m")
    v1 = serving.publish(_saved_model(tmp_path, "a"), expected_latest=None)
    v2 = serving.publish(_saved_model(tmp_path, "b"), expected_latest=v1)
    assert serving.versions() == [v1, v2] and v2 > v1
    with pytest.raises(StaleBaseline, match=f"version {v2} was published"):
        serving.publish(_saved_model(tmp_path, "c"), expected_latest=v1)
    assert serving.versions() == [v1, v2]  # nothing half-published
    assert not [d for d in os.listdir(serving.model_dir) if d.startswith(".incoming")]
    v3 = serving.publish(_saved_model(tmp_path, "d"), expected_latest=v2)
    assert serving.prune(keep_last=2) == [v1]
    assert serving.versions() == [v2, v3]


def test_rollback_moves_newer_versions_aside_and_is_refused_without_an_older_one(tmp_path):
    serving = ServingDirectory(str(tmp_path / "serving"), "m")
    v1 = serving.publish(_saved_model(tmp_path, "a"), expected_latest=None)
    with pytest.raises(Exception, match="nothing to roll back to"):
        serving.rollback()
    v2 = serving.publish(_saved_model(tmp_path, "b"), expected_latest=v1)
    assert serving.rollback() == ([v2], v1)
    assert serving.versions() == [v1] and serving.rolled_back() == [v2]
    # A later version is numbered past the rolled-back one (no reuse of version numbers).
    v3 = serving.publish(_saved_model(tmp_path, "c"), expected_latest=v1)
    assert v3 > v2


# -- run records --------------------------------------------------------------------------------
def test_run_record_marks_unrecorded_steps_not_run_and_names_the_failure(tmp_path):
    run = RunLog(str(tmp_path), "p", "manual__2026-01-01T00:00:00+00:00")
    assert run.run_id == "manual__2026-01-01T00_00_00_00_00"
    plan = [{"step": s, "component": s, "inputs": {}} for s in ("a", "b", "c")]
    run.start({"runner": "airflow", "plan": plan, "started_at": "2026-01-01T00:00:00+00:00"})
    run.write_step({"step": "a", "component": "a", "status": "executed", "seconds": 2.0})
    assert run.assemble(final=False)["status"] == "running"
    run.write_step({"step": "b", "component": "b", "status": "failed", "error": "boom"})
    record = run.assemble(final=True)
    assert [s["status"] for s in record["steps"]] == ["executed", "failed", "not run"]
    assert record["status"] == "failed" and "step 'b' failed: boom" in record["error"]
    assert record["seconds"] > 0  # real wall time from the start to now
    with pytest.raises(Exception, match="not usable"):
        safe_run_id("..")
