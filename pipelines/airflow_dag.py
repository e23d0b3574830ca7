"""Build an Airflow 3 DAG from a tfpipe pipeline: one task per component.

Each task runs its component through the component CLI (``python -m components <name>``) in the
pipeline's runtime interpreter, so the Airflow worker never imports TensorFlow and a pipeline can
train on a runtime other than Airflow's own. Tasks pass only small JSON results (artifact URI,
fingerprint, summary) through XCom; data stays in the artifact store.

Per-run parameters (the pipeline's ``run_params``) become DAG ``Param``s: the UI's trigger form,
and validated ``conf`` for REST triggers. An asset-scheduled DAG reads the triggering asset events'
``extra`` for the same names (a data drop can say which files landed).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from components import get_spec
from components.core.runtime import REPO_ROOT, child_environment, interpreter
from pipelines.definition import Pipeline, Step
from pipelines.registry import load_pipeline
from pipelines.runs import artifacts_root

DEFAULT_RETRIES = 2


def default_home() -> str:
    return os.environ.get("TFPIPE_HOME", os.path.join(REPO_ROOT, ".tfpipe"))


def pushed_model_asset(pipeline: str) -> Asset:
    return Asset(name=f"{pipeline}_pushed_model", uri=f"tfpipe://{pipeline}/pushed_model")


def data_asset(pipeline: str) -> Asset:
    return Asset(name=f"{pipeline}_data", uri=f"tfpipe://{pipeline}/data")


def dag_params(pipeline: Pipeline) -> dict[str, Param]:
    params = {}
    for rp in pipeline.run_params:
        default = pipeline.run_param_default(rp)
        schema = dict(rp.schema)
        if default is None:  # optional: absent unless given
            schema["type"] = [schema.get("type", "string"), "null"]
        params[rp.name] = Param(default, description=rp.description or rp.target, **schema)
    return params


def run_overrides(pipeline: Pipeline, context: dict[str, Any]) -> dict[str, Any]:
    """This run's values of the run params: the trigger's params, then asset-event extras."""
    params = context.get("params") or {}
    overrides = {
        rp.name: params[rp.name]
        for rp in pipeline.run_params
        if rp.name in params and params[rp.name] != pipeline.run_param_default(rp)
    }
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        for event in asset_events:
            extra = getattr(event, "extra", None) or {}
            overrides.update(
                {k: v for k, v in extra.items() if k in {rp.name for rp in pipeline.run_params}}
            )
    return overrides


def run_component(
    pipeline_ref: str, home: str, step_name: str, inputs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The body of every task: resolve this run's parameters, then run the component's CLI."""
    context = get_current_context()
    base = load_pipeline(pipeline_ref, home)
    pipeline = base.with_overrides(run_overrides(base, context))
    step: Step = pipeline.step(step_name)
    run_id = context["run_id"]
    command = [
        interpreter(pipeline.runtime),
        "-m",
        "components",
        step.component,
        "--params",
        json.dumps(step.params),
        "--artifacts-root",
        artifacts_root(home, pipeline.name),
        "--step",
        step.name,
        "--runtime",
        pipeline.runtime,
        "--run-id",
        run_id,
    ]
    for name, upstream in inputs.items():
        command += ["--input", f"{name}={upstream['uri']}"]
    log_dir = os.path.join(home, pipeline.name, "runs", _safe(run_id))
    os.makedirs(log_dir, exist_ok=True)
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_environment(),
        cwd=REPO_ROOT,
    )
    last = ""
    assert proc.stdout
    with open(os.path.join(log_dir, f"{step.name}.log"), "a") as log:
        for line in proc.stdout:
            print(line, end="")  # into the Airflow task log
            log.write(line)
            if line.strip():
                last = line
    code = proc.wait()
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        result = {"ok": False, "error": f"{step.component} exited with code {code}"}
    if code != 0 or not result.get("ok"):
        raise RuntimeError(f"step '{step.name}' failed: {result.get('error')}")
    result.update(run_id=run_id, overrides=run_overrides(base, context))
    return result


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)


def build_dag(
    pipeline_ref: str,
    *,
    dag_id: str | None = None,
    schedule: Any = "pipeline",
    home: str | None = None,
    tags: tuple[str, ...] = ("tfpipe",),
) -> DAG:
    """A DAG for ``pipeline_ref`` (a built-in name or a pipeline file).

    ``schedule="pipeline"`` uses the pipeline's own schedule; pass an Asset list for data-aware
    runs, or None for trigger-only.
    """
    home = home or default_home()
    pipeline = load_pipeline(pipeline_ref, home)
    with DAG(
        dag_id=dag_id or pipeline.name,
        description=pipeline.description,
        schedule=pipeline.schedule if schedule == "pipeline" else schedule,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=4,
        params=dag_params(pipeline),
        tags=list(tags),
        doc_md=_dag_doc(pipeline),
        default_args={
            # Components are idempotent (cached by fingerprint, committed atomically), so a
            # retry after a crash or a kill is safe and resumes from the last checkpoint.
            "retries": DEFAULT_RETRIES,
            "retry_delay": timedelta(seconds=10),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=10),
        },
    ) as dag:
        results: dict[str, Any] = {}
        for step in pipeline.topological():
            spec = get_spec(step.component)
            outlets = [pushed_model_asset(pipeline.name)] if step.component == "pusher" else []

            @task(task_id=step.name, doc_md=spec.description, outlets=outlets)
            def run_step(upstream: dict[str, Any], step_name: str = step.name) -> dict[str, Any]:
                result = run_component(pipeline_ref, home, step_name, upstream)
                if step_name == "pusher" or result.get("component") == "pusher":
                    _announce_push(result)
                return result

            results[step.name] = run_step(
                {name: results[upstream] for name, upstream in step.inputs.items()}
            )

        @task(
            task_id="report",
            trigger_rule="all_done",
            retries=0,
            doc_md="Writes the run record and the HTML report, whatever happened upstream.",
        )
        def report(step_results: dict[str, Any]) -> str:
            return write_report(pipeline_ref, home, step_results)

        report(results)
    return dag


def write_report(pipeline_ref: str, home: str, step_results: dict[str, Any]) -> str:
    """Record this DAG run like a local run (from the committed manifests) and render its report.
    Fails, after writing both, when a step did not commit, so the DAG run state stays honest."""
    from components.core.artifacts import is_committed, utc_now
    from pipelines.report import render_report
    from pipelines.runs import save_run

    context = get_current_context()
    base = load_pipeline(pipeline_ref, home)
    overrides = run_overrides(base, context)
    pipeline = base.with_overrides(overrides)
    run_id = _safe(context["run_id"])
    record: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": pipeline.name,
        "runner": "airflow",
        "runtime": pipeline.runtime,
        "overrides": overrides,
        "started_at": str(getattr(context["dag_run"], "start_date", "") or ""),
        "finished_at": utc_now(),
        "steps": [],
    }
    # The tasks' own results say which artifact each step used: a re-plan could differ (the
    # Evaluator's baseline changes once this run's Pusher has pushed).
    for spec_step in pipeline.topological():
        result = step_results.get(spec_step.name) or {}
        uri = result.get("uri") or _committed_uri(pipeline, spec_step.name, home, step_results)
        step: dict[str, Any] = {
            "step": spec_step.name,
            "component": spec_step.component,
            "fingerprint": result.get("fingerprint", ""),
            "uri": uri or "",
        }
        if uri and is_committed(uri):
            with open(os.path.join(uri, "manifest.json"), encoding="utf-8") as f:
                manifest = json.load(f)
            mine = manifest.get("run_id") == context["run_id"]
            step.update(
                fingerprint=manifest.get("fingerprint", ""),
                status="executed" if mine else "cached",
                seconds=manifest.get("seconds", 0.0) if mine else 0.0,
                summary=manifest.get("summary", {}),
            )
        else:
            step["status"] = "failed"
        record["steps"].append(step)
    failed = [s["step"] for s in record["steps"] if s["status"] == "failed"]
    record["status"] = "failed" if failed or "error" in record else "succeeded"
    record["executed"] = [s["step"] for s in record["steps"] if s["status"] == "executed"]
    record["report"] = render_report(record, home)
    save_run(home, record)
    if record["status"] == "failed":
        raise RuntimeError(f"steps {failed} did not complete; report: {record['report']}")
    return record["report"]


def _committed_uri(
    pipeline: Pipeline, name: str, home: str, step_results: dict[str, Any]
) -> str | None:
    """The artifact of a step whose task returned nothing (the Pusher skips its task when it
    pushed nothing), from its upstream results: its fingerprint depends only on those."""
    from components.core.execute import resolve

    step = pipeline.step(name)
    upstream = {n: step_results.get(src) or {} for n, src in step.inputs.items()}
    if not upstream or not all(u.get("uri") for u in upstream.values()):
        return None
    try:
        return resolve(
            component=step.component,
            step=step.name,
            raw_params=step.params,
            input_uris={n: u["uri"] for n, u in upstream.items()},
            input_fingerprints={n: u["fingerprint"] for n, u in upstream.items()},
            runtime=pipeline.runtime,
            artifacts_root=artifacts_root(home, pipeline.name),
        ).uri
    except Exception:  # unresolvable: reported as not completed
        return None


def _announce_push(result: dict[str, Any]) -> None:
    """Attach the pushed version to the pushed-model asset event (deployment DAGs read it)."""
    context = get_current_context()
    summary = result.get("summary", {})
    if not summary.get("pushed"):
        # No new model: skipping the task emits no asset event, so deployments do not fire.
        raise AirflowSkipException(f"nothing pushed: {summary.get('reason')}")
    for asset in context["task"].outlets:
        context["outlet_events"][asset].extra = {
            "pushed": True,
            "version": summary.get("version"),
            "destination": summary.get("destination"),
            "run_id": result.get("run_id"),
        }


def _dag_doc(pipeline: Pipeline) -> str:
    steps = " → ".join(s.name for s in pipeline.topological())
    params = "\n".join(f"- `{p.name}` → `{p.target}`: {p.description}" for p in pipeline.run_params)
    return (
        f"### {pipeline.name}\n{pipeline.description}\n\n{steps}\n\nRuntime: "
        f"`{pipeline.runtime}`. Per-run parameters (trigger form / REST conf):\n{params}"
    )


__all__ = ["build_dag", "data_asset", "pushed_model_asset"]
