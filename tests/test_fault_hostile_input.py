"""Fault table, row 6: hostile input. Trigger conf and asset-event extras are checked by one schema
(unknown keys, types, paths confined to the data roots); run ids cannot climb out of the runs
directory; the orchestrator's secrets never reach user code, logs, manifests, records or reports.

The same checks on a live Airflow (HTTP 400 and no run for a bad conf or event extra) are in
tests/test_airflow_standalone.py; that they answer only clients Airflow would serve (others get
Airflow's 401/403), with a bounded body and no pipeline file run in the API server, is in
tests/test_airflow_ui.py.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest
from conftest import REPO, run_penguins

from tfpipe.components.core.runtime import child_environment
from tfpipe.pipelines.runs import safe_run_id

SECRET = "s3cr3t-Pa55word-do-not-leak"
SECRETS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql://airflow:{SECRET}@127.0.0.1/airflow",
    "AIRFLOW__CELERY__BROKER_URL": f"redis://:{SECRET}@127.0.0.1:6379/0",
    "AIRFLOW__CORE__FERNET_KEY": SECRET,
    "AIRFLOW_CONN_WAREHOUSE": f"postgres://u:{SECRET}@db/x",
    "PGPASSWORD": SECRET,
    # Generic secrets of the deployment: tokens, API keys, passwords (not only Airflow's).
    "GITHUB_TOKEN": SECRET,
    "OPENAI_API_KEY": SECRET,
    "SMTP_PASSWORD": SECRET,
    "TF_TOKEN_app_terraform_io": SECRET,  # under an allowed prefix, still a secret
    "DATADOG_APIKEY": SECRET,
    "SENTRY_DSN": f"https://{SECRET}@sentry.example/1",
}


def test_trigger_values_refuse_unknown_keys_bad_types_and_paths_outside_the_data_roots(
    tmp_path, monkeypatch
):
    from tfpipe.pipelines.registry import load_pipeline
    from tfpipe.pipelines.triggers import check_values

    monkeypatch.setenv("TFPIPE_DATA_ROOTS", str(tmp_path))
    pipeline = load_pipeline("penguins", str(tmp_path))
    (tmp_path / "drop.csv").write_text("x\n")
    assert check_values(pipeline, str(tmp_path), {"data": str(tmp_path / "drop.csv")}, "conf") == []
    problems = check_values(
        pipeline,
        str(tmp_path),
        {"trian_steps": 5, "train_steps": "lots", "data": "/etc/passwd"},
        "conf",
    )
    assert any(
        "unknown key 'trian_steps'" in p and "did you mean 'train_steps'" in p for p in problems
    )
    assert any("'train_steps'" in p and "is not of type 'integer'" in p for p in problems)
    assert any("outside the data roots" in p for p in problems)


def test_the_trigger_forms_defaults_are_accepted_and_an_emptied_required_field_is_named(
    tmp_path,
):
    """Airflow's trigger form sends every Param, an empty optional one as null."""
    from tfpipe.pipelines.airflow_dag import dag_params
    from tfpipe.pipelines.registry import load_pipeline
    from tfpipe.pipelines.triggers import check_values

    pipeline = load_pipeline("penguins", str(tmp_path))
    form = {name: param.value for name, param in dag_params(pipeline).items()}
    assert form["data"] is None  # the optional field: shown empty
    assert check_values(pipeline, str(tmp_path), form, "conf") == []
    for name in form:  # each optional field empty, every other one filled with its default
        assert check_values(pipeline, str(tmp_path), {**form, name: None}, "conf") == [] or (
            name != "data"
        )
    problems = check_values(pipeline, str(tmp_path), {**form, "train_steps": None}, "conf")
    assert problems == ["conf: 'train_steps' is empty; give a value or leave the default 1000"]


def test_asset_events_merge_all_their_files_and_refuse_disagreeing_settings():
    from tfpipe.pipelines.triggers import merge_event_extras

    merged, problems = merge_event_extras(
        [
            {"data": "/d/a.csv", "train_steps": 40, "from_rest_api": True},
            {"data": ["/d/b.csv", "/d/a.csv"], "train_steps": 40},
        ]
    )
    assert merged == {"data": ["/d/a.csv", "/d/b.csv"], "train_steps": 40} and not problems
    _, problems = merge_event_extras([{"train_steps": 40}, {"train_steps": 50}])
    assert problems and "disagree on 'train_steps'" in problems[0]


def test_run_ids_cannot_name_paths_outside_the_runs_directory():
    assert safe_run_id("manual__2026-01-01T00:00:00+00:00") == "manual__2026-01-01T00_00_00_00_00"
    assert "/" not in safe_run_id("../../etc/cron.d/x")
    for bad in ("..", ".", "", "x" * 300):
        with pytest.raises(Exception, match="not usable"):
            safe_run_id(bad)


def test_component_processes_get_an_allowlisted_environment(monkeypatch):
    """What the step needs and what the pipeline names, not the environment minus a denylist."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    needed = {
        "PATH": os.environ["PATH"],
        "HOME": "/home/someone",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TF_CONFIG": '{"cluster": {}}',
        "TFPIPE_STORE": "s3://bucket/ml",
        "TFPIPE_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ACCESS_KEY_ID": "key-id",  # the object store's credentials: what the store needs
        "AWS_SECRET_ACCESS_KEY": "store-secret",
        "AWS_SESSION_TOKEN": "store-session",
        "OMP_NUM_THREADS": "2",
    }
    for key, value in {**needed, "MY_SERVICE_API_KEY": "named-by-the-pipeline"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", "/dags")  # nothing a step needs
    monkeypatch.setenv("SOME_UNRELATED_SETTING", "x")
    env = child_environment("modern")
    assert not [k for k, v in env.items() if SECRET in v]
    assert {k: env.get(k) for k in needed} == needed
    assert "AIRFLOW__CORE__DAGS_FOLDER" not in env and "SOME_UNRELATED_SETTING" not in env
    assert "MY_SERVICE_API_KEY" not in env  # an API key, until the pipeline names it
    env = child_environment("modern", named=("MY_SERVICE_API_KEY",))
    assert env["MY_SERVICE_API_KEY"] == "named-by-the-pipeline"
    assert not [k for k, v in env.items() if SECRET in v]
    # The names travel on: a process the component starts (a training cluster's task) keeps them.
    monkeypatch.setattr(os, "environ", dict(env))
    nested = child_environment("modern")
    assert nested["MY_SERVICE_API_KEY"] == "named-by-the-pipeline"
    assert not [k for k, v in nested.items() if SECRET in v]


@pytest.mark.slow
def test_no_secret_reaches_user_code_logs_manifests_records_or_reports(tmp_path, monkeypatch):
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    # A private temporary directory for the run and every process it starts: the run must leave
    # it empty (TensorFlow's AutoGraph files and Beam's temp files used to stay behind).
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    seen = tmp_path / "env_seen_by_user_code.json"
    module = tmp_path / "user_module.py"
    source = open(os.path.join(REPO, "pipelines", "penguins", "user_module.py")).read()
    module.write_text(
        source + "\nimport json as _json, os as _os\n"
        f"open({str(seen)!r}, 'w').write(_json.dumps(dict(_os.environ)))\n"
    )
    home = tmp_path / "home"
    record = run_penguins(
        str(home),
        {
            "transform.module_file": str(module),
            "trainer.module_file": str(module),
            "trainer.train_steps": 60,
            "evaluator.thresholds": {},
        },
    )
    assert record["status"] == "succeeded", record
    user_env = json.loads(seen.read_text())
    assert user_env and not [k for k, v in user_env.items() if SECRET in v]
    leaks = []
    for root, _dirs, files in os.walk(home):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                if SECRET.encode() in f.read():
                    leaks.append(path)
    assert leaks == []
    assert os.listdir(private_tmp) == []


def test_symlinks_and_globs_inside_a_data_root_do_not_reach_outside_it(tmp_path, monkeypatch):
    """From the trigger's check through the step's glob match to its read."""
    from conftest import example_gen_invocation

    from tfpipe.components.core.errors import InputDataError
    from tfpipe.components.core.execute import execute
    from tfpipe.pipelines.registry import load_pipeline
    from tfpipe.pipelines.triggers import check_values

    root, outside = tmp_path / "drops", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.csv").write_text("password\nhunter2\n")
    (tmp_path / "beside.csv").write_text("password\nhunter3\n")
    (root / "good.csv").write_text("a\n1\n")
    (root / "link.csv").symlink_to(outside / "secret.csv")
    (root / "sub").symlink_to(outside)
    monkeypatch.setenv("TFPIPE_DATA_ROOTS", str(root))
    pipeline = load_pipeline("penguins", str(tmp_path))

    assert check_values(pipeline, str(tmp_path), {"data": str(root / "good.csv")}, "conf") == []
    for hostile in (
        str(root / "*.csv"),  # matches link.csv → private/secret.csv
        str(root / "*" / ".." / "beside.csv"),  # sub/.. is tmp_path, not drops
    ):
        problems = check_values(pipeline, str(tmp_path), {"data": hostile}, "conf")
        assert problems and "outside the data roots" in problems[0], hostile

    # The step itself is handed the roots, and confines what it matches ...
    from tfpipe.pipelines.triggers import confine

    assert confine(pipeline, str(tmp_path), {"data": str(root / "*.csv")}) == {
        "example_gen.data_roots": [str(root)]
    }
    store = str(tmp_path / "store")
    with pytest.raises(InputDataError, match=r"link\.csv matched by .* outside the data roots"):
        example_gen_invocation(store, input=str(root / "*.csv"), data_roots=[str(root)])
    # ... and what it reads: a file swapped for a link after planning is refused by name.
    planned = example_gen_invocation(store, input=str(root / "good.csv"), data_roots=[str(root)])
    (root / "good.csv").unlink()
    (root / "good.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(InputDataError, match=r"good\.csv given as input is outside the data roots"):
        execute(planned, "run")
    assert not os.path.exists(planned.uri)
