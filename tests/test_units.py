"""Fast unit tests of the pure logic a refactor could break: trainer decision, cluster config,
hash splitting, schema checks, fingerprints, runtime identities, serving versions, run records."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import REPO

from tfpipe.components.artifacts import ServingDirectory, StaleBaseline
from tfpipe.components.core.errors import InputDataError, ParameterError
from tfpipe.components.core.fingerprint import content_digests, data_digest, digest
from tfpipe.components.core.runtime import pinned_packages, runtime_identity
from tfpipe.components.core.user_code import module_digest
from tfpipe.components.example_gen.split import HashSplitter, row_hash
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.decision import decide
from tfpipe.components.trainer.params import TrainerParams
from tfpipe.pipelines.runs import RunLog, safe_run_id
from tfpipe.pipelines.training_cluster import TrainingCluster


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


def test_a_training_cluster_of_airflow_tasks_places_each_member_on_its_host():
    spec = {"chief": ["w1:2222"], "worker": ["w2:2222", "10.0.0.3:2223"]}
    tc = TrainingCluster.of(json.dumps(spec), "trainer")
    placed = [(m.task_id, m.name, m.host, m.is_chief) for m in tc.members]
    assert placed == [
        ("trainer", "chief:0", "w1", True),
        ("trainer_worker_0", "worker:0", "w2", False),
        ("trainer_worker_1", "worker:1", "10.0.0.3", False),
    ]
    configs = [ClusterConfig.from_env({"TF_CONFIG": tc.tf_config(m)}) for m in tc.members]
    assert [c.task_name for c in configs] == ["chief:0", "worker:0", "worker:1"]
    assert [c.is_chief for c in configs] == [True, False, False]  # only the chief commits
    assert len({c.identity() for c in configs}) == 1  # one fingerprint for every member
    assert configs[1].cluster == spec
    for bad, message in (
        ({"worker": ["w2:2222"]}, "exactly one chief"),
        ({"chief": ["w1:2222"], "ps": ["w3:2222"]}, r"roles \['ps'\] are not supported"),
        ({"chief": ["w1"]}, "'w1' \\(chief\\) is not 'host:port'"),
        ({"chief": ["w1:2222"], "worker": ["w1:2222"]}, "used twice"),
        ("{nope", "is not JSON"),
    ):
        with pytest.raises(ParameterError, match=message):
            TrainingCluster.of(bad, "trainer")


def test_a_members_watch_stops_it_when_a_sibling_fails_while_it_runs_not_for_one_coming_back():
    import time

    from tfpipe.pipelines.training_cluster import SiblingWatch

    tc = TrainingCluster.of({"chief": ["w1:2222"], "worker": ["w2:2222"]}, "trainer")
    worker = tc.members[1]

    def watched(states: list[str]) -> SiblingWatch:
        """The watch after it has seen every state in turn (the last one twice)."""
        polled: list[str] = []

        def poll() -> dict[str, str]:
            polled.append(states[min(len(polled), len(states) - 1)])
            return {worker.task_id: polled[-1]}

        with SiblingWatch([worker], poll, 0.01) as watch:
            deadline = time.monotonic() + 10
            while len(polled) <= len(states) and not watch.stop.is_set():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        return watch

    # Retrying when this one started, then running: no reason to stop.
    assert not watched(["up_for_retry", "queued", "running", "success"]).stop.is_set()
    stopped = watched(["queued", "running", "up_for_retry"])  # its try failed meanwhile
    assert stopped.stop.is_set()
    assert stopped.reason == "member worker:0 (task trainer_worker_0, host w2) is up_for_retry"
    assert watched(["failed"]).stop.is_set()  # failed for good: the cluster cannot form


def test_a_non_chief_members_plan_keeps_it_from_taking_the_artifacts_lock(tmp_path, monkeypatch):
    """The Airflow task plans the step and hands the plan to the component process: a worker
    of the cluster must still commit nothing there, so it never waits for (or takes over) the
    chief's lock on the artifact they compute together."""
    from tfpipe.components.core.execute import Invocation
    from tfpipe.pipelines.engine import plan
    from tfpipe.pipelines.registry import load_pipeline

    tc = TrainingCluster.of({"chief": ["w1:2222"], "worker": ["w2:2222"]}, "trainer")
    pipeline = load_pipeline("penguins", str(tmp_path))
    planned = {}
    for member in tc.members:
        monkeypatch.setenv("TF_CONFIG", tc.tf_config(member))
        trainer = next(i for i in plan(pipeline, str(tmp_path)) if i.step == "trainer")
        planned[member.name] = Invocation.from_request(trainer.to_request("run"))
    assert {name: inv.external.commits for name, inv in planned.items()} == {
        "chief:0": True,
        "worker:0": False,
    }
    assert planned["chief:0"].fingerprint == planned["worker:0"].fingerprint


def test_trainer_parameters_refuse_impossible_combinations():
    with pytest.raises(ValueError, match="multiple of steps_per_epoch"):
        params(train_steps=250, steps_per_epoch=100)
    with pytest.raises(ValueError, match="needs 'estimator'"):
        params(backend="estimator")
    with pytest.raises(ParameterError, match="needs the 'estimator' runtime"):
        params(backend="estimator", estimator="DNNClassifier").validate_for_runtime("modern")


# -- ExampleGen: hash split, widening reader, statistics, contract ------------------------------
def test_hash_split_is_stable_follows_ratios_and_survives_int_to_float_widening():
    import pyarrow as pa

    splitter = HashSplitter({"train": 0.8, "eval": 0.2})
    ids = pa.record_batch({"id": pa.array(range(20_000), pa.int64()), "s": ["x"] * 20_000})
    first = splitter(row_hash(ids))
    assert (first == splitter(row_hash(ids))).all()  # same row, same split, always
    share = (first == 1).mean()
    assert 0.18 < share < 0.22
    widened = pa.record_batch({"id": pa.array(range(20_000), pa.float64()), "s": ["x"] * 20_000})
    assert (splitter(row_hash(widened)) == first).all()


def test_csv_reader_widens_a_column_that_changes_type_late(tmp_path):
    from tfpipe.components.example_gen.readers import CsvSource, Rejected, Widen

    rows = ["a,b"] + [f"{i},x" for i in range(600_000)] + ["oops,y"]  # beyond block 1
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    source = CsvSource([str(tmp_path / "d.csv")], ["", "NA"], "error")
    types = source.initial_types({})
    assert str(types["a"]) == "int64"
    with pytest.raises(Widen) as widen:
        for _ in source.batches(types, Rejected()):
            pass
    assert str(widen.value.types["a"]) == "double"  # one step at a time: int → float → string


def test_column_statistics_sample_histogram_and_contract_violations():
    import numpy as np
    import pyarrow as pa

    from tfpipe.components.core.schema import ColumnSchema
    from tfpipe.components.example_gen.stats import ColumnStats

    stats = ColumnStats("v", ColumnSchema("v", "float", min=0.0, max=10.0))
    values = pa.array([1.0, 2.0, None, 12.0, -1.0, 5.0])
    stats.add(values, np.arange(6, dtype=np.uint64))
    out = stats.to_json("float")
    assert (out["count"], out["missing"], out["min"], out["max"]) == (5, 1, -1.0, 12.0)
    assert out["out_of_range"] == 2 and out["inferred_type"] == "int"  # all whole numbers
    assert sum(out["histogram"]["counts"]) == 5
    words = ColumnStats("w", ColumnSchema("w", "string", domain=("a", "b")))
    words.add(pa.array(["a", "b", "c", "c", None]), np.arange(5, dtype=np.uint64))
    assert words.to_json("string")["out_of_domain"] == 2


def test_contract_round_trips_through_tensorflow_metadata(tmp_path):
    from tfpipe.components.core.contract import load_contract, to_text
    from tfpipe.components.core.schema import ColumnSchema, Schema

    contract = Schema.of(
        [
            ColumnSchema("s", "string", 1.0, ("a", "b")),
            ColumnSchema("i", "int", 0.5, None, 0, 9),
            ColumnSchema("f", "float", 0.0, None, -1.5, None),
        ]
    )
    path = tmp_path / "schema.pbtxt"
    path.write_text(to_text(contract))
    assert "string_domain" in path.read_text() and "type: BYTES" in path.read_text()
    assert load_contract(str(path)) == contract
    path.write_text("feature { name: ")
    with pytest.raises(InputDataError, match="not a tensorflow-metadata Schema"):
        load_contract(str(path))


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


def test_asset_claims_give_each_event_to_exactly_one_run_and_sweep_in_lost_ones(tmp_path):
    from tfpipe.pipelines.asset_claims import AssetClaims, Event

    def ev(i: int) -> Event:
        stamp = f"2026-01-01T00:00:0{i}+00:00"
        return Event(key=f"tfpipe://p/data@{stamp}", timestamp=stamp, extra={"data": f"/d/{i}.csv"})

    ledger = AssetClaims(str(tmp_path / "claims" / "dag.json"))
    queried = []

    def history() -> list[Event]:
        queried.append(1)
        return [ev(1), ev(2), ev(3)]  # event 3 reached no run's triggering events

    first = ledger.claim("run-a", [ev(1), ev(2)], history)
    assert [e.extra["data"] for e in first.events] == ["/d/1.csv", "/d/2.csv", "/d/3.csv"]
    assert first.taken_by == {}
    # A retry (or a later task) of the same run sees the same claim without querying again.
    again = ledger.claim("run-a", [ev(1), ev(2)], history)
    assert again.events == first.events and len(queried) == 1
    # The run that event 3 started finds it taken, and says by whom.
    late = ledger.claim("run-b", [ev(3)], lambda: [ev(3)])
    assert late.events == [] and late.taken_by == {ev(3).key: "run-a"}
    # A later drop goes to the next run only.
    nxt = ledger.claim("run-c", [ev(4)], lambda: [ev(3), ev(4)])
    assert nxt.events == [ev(4)]


def test_a_jobset_pod_gets_the_tf_config_of_its_cluster():
    env = {
        "TFPIPE_CLUSTER_ROLES": "chief=1,worker=2",
        "TFPIPE_CLUSTER_PORT": "2222",
        "JOBSET_NAME": "penguins-train",
        "REPLICATED_JOB_NAME": "worker",
        "JOB_INDEX": "1",
    }
    config = ClusterConfig.from_env(env)
    assert config.cluster == {
        "chief": ["penguins-train-chief-0-0.penguins-train:2222"],
        "worker": [
            "penguins-train-worker-0-0.penguins-train:2222",
            "penguins-train-worker-1-0.penguins-train:2222",
        ],
    }
    assert (config.task_type, config.task_index, config.is_chief) == ("worker", 1, False)
    with pytest.raises(ParameterError, match="JOBSET_NAME"):
        ClusterConfig.from_env({"TFPIPE_CLUSTER_ROLES": "chief=1"})


@pytest.mark.parametrize(
    "name,runner",
    [
        ("dataflow", "DataflowRunner"),
        ("flink", "FlinkRunner"),
        ("spark", "PortableRunner"),
        ("local-portable", "PortableRunner"),
    ],
)
def test_shipped_beam_option_sets_parse_as_pipeline_options_for_their_runner(name, runner):
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    from tfpipe.components.example_gen.params import ExampleGenParams
    from tfpipe.components.transform.params import TransformParams
    from tfpipe.pipelines.definition import parse_assignment

    with open(os.path.join(REPO, "infra", "beam", f"{name}.json")) as f:
        text = f.read()
    key, args = parse_assignment(f"transform.beam_args={text}")
    assert key == "transform.beam_args" and all(a.startswith("--") for a in args)
    options = PipelineOptions(args)
    assert options.view_as(StandardOptions).runner == runner
    unknown = [a for a in args if a.split("=")[0].lstrip("-") not in options.get_all_options()]
    assert not unknown, f"{name}.json: options Beam does not know: {unknown}"
    ExampleGenParams(input="x.csv", beam_args=args)
    TransformParams(module_file="m.py", beam_args=args)


def test_data_roots_accept_bucket_prefixes_and_refuse_paths_that_climb_out(monkeypatch, tmp_path):
    from tfpipe.pipelines.registry import load_pipeline
    from tfpipe.pipelines.triggers import check_values, split_roots

    assert split_roots(f"{tmp_path}:s3://landing/penguins/:/data") == [
        str(tmp_path),
        "s3://landing/penguins",
        "/data",
    ]
    monkeypatch.setenv("TFPIPE_DATA_ROOTS", f"{tmp_path}:s3://landing/penguins")
    pipeline = load_pipeline("penguins", str(tmp_path))
    ok = check_values(pipeline, str(tmp_path), {"data": "s3://landing/penguins/*.csv"}, "conf")
    assert ok == []
    for bad in ("s3://landing/other/*.csv", "s3://landing/penguins/../other/x.csv"):
        problems = check_values(pipeline, str(tmp_path), {"data": bad}, "conf")
        assert problems and "outside the data roots" in problems[0], bad


def test_where_and_how_are_not_part_of_a_fingerprint_but_what_is(tmp_path, penguins_csv):
    from conftest import example_gen_invocation

    copy = tmp_path / "elsewhere" / "penguins.csv"
    copy.parent.mkdir()
    shutil.copy(penguins_csv, copy)

    def example_gen(**params):
        return example_gen_invocation(str(tmp_path / "artifacts"), **params).fingerprint

    base = example_gen(input=penguins_csv)
    assert example_gen(input=str(copy)) == base  # the same bytes elsewhere
    assert example_gen(input=penguins_csv, beam_args=["--runner=DirectRunner"]) == base
    assert example_gen(input=penguins_csv, split_ratios={"train": 0.5, "eval": 0.5}) != base
    copy.write_text(copy.read_text() + copy.read_text().splitlines()[1] + "\n")
    assert example_gen(input=str(copy)) != base  # other bytes
