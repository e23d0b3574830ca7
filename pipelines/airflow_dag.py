"""Build an Airflow 3 DAG from a tfpipe pipeline: one task per step, plus a final report task.

Each task resolves its step (validated parameters, fingerprint) from its upstream tasks' results
and runs it through the component CLI in the step's runtime interpreter, so the Airflow worker
never imports TensorFlow and each step may use its own runtime. Tasks pass only small JSON results
(artifact URI, fingerprint, summary) through XCom; data stays in the artifact store. Every task
writes its step record into the run's directory, the same files the local runner writes, so
``tfpipe runs/show/report`` cover Airflow runs too.

Per-run parameters (the pipeline's ``run_params``) become DAG ``Param``s: the UI's trigger form,
and validated ``conf`` for REST triggers. An asset-scheduled DAG reads the triggering asset events'
``extra`` for the same names (a data drop says which files landed). A step whose component has an
``outlet`` updates that asset, with the component's ``announce`` as the event extra; a result it
does not announce skips the task, so no event is emitted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, CronTriggerTimetable, Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from tfpipe.components import get_spec
from tfpipe.components.artifacts import is_committed
from tfpipe.components.core.errors import ParameterError, TfpipeError
from tfpipe.pipelines.asset_claims import AssetClaims, Event
from tfpipe.pipelines.data_interval import (
    DATE_PARAM,
    drop_overrides,
    interval_note,
    interval_overrides,
    windowed_steps,
)
from tfpipe.pipelines.definition import Pipeline
from tfpipe.pipelines.engine import (
    cached_result,
    check_ahead,
    finish_run,
    resolve_step,
    run_header,
    run_step_process,
    step_record,
)
from tfpipe.pipelines.home import asset_claims_path, default_home
from tfpipe.pipelines.registry import load_pipeline
from tfpipe.pipelines.runs import RunLog
from tfpipe.pipelines.training_cluster import (
    Member,
    SiblingWatch,
    TrainingCluster,
    member_environment,
)
from tfpipe.pipelines.triggers import (
    CARD_KEY,
    TriggerCard,
    check_values,
    confine,
    merge_event_extras,
)
from tfpipe.pipelines.worker_name import hostname

DEFAULT_RETRIES = 2


def step_asset(pipeline: str, outlet: str) -> Asset:
    return Asset(name=f"{pipeline}_{outlet}", uri=f"tfpipe://{pipeline}/{outlet}")


def pushed_model_asset(pipeline: str) -> Asset:
    return step_asset(pipeline, "pushed_model")


def data_asset(pipeline: str) -> Asset:
    return Asset(name=f"{pipeline}_data", uri=f"tfpipe://{pipeline}/data")


def predictions_asset(pipeline: str) -> Asset:
    """Updated by a scoring run: its extra names the predictions' URI, files and model version."""
    return step_asset(pipeline, "predictions")


def schedule_assets(schedule: Any) -> list[Asset]:
    """The assets a schedule waits on: a list of them, or an ``a | b`` condition."""
    if isinstance(schedule, Asset):
        return [schedule]
    if isinstance(schedule, list):
        return [a for a in schedule if isinstance(a, Asset)]
    return [a for a in getattr(schedule, "objects", ()) if isinstance(a, Asset)]


def dag_params(pipeline: Pipeline, card: TriggerCard | None = None) -> dict[str, Param]:
    """The trigger form: one Param per run param, from the same card the trigger check reads."""
    params = {}
    for p in (card or TriggerCard.of(pipeline)).params:
        default = None if p["optional"] else p["default"]
        schema = dict(p["schema"])
        if default is None:  # optional: absent unless given
            kinds = schema.get("type", "string")
            schema["type"] = [*(kinds if isinstance(kinds, list) else [kinds]), "null"]
        schema.pop("description", None)
        params[p["name"]] = Param(default, description=p["description"], **schema)
    return params


def run_overrides(pipeline: Pipeline, context: dict[str, Any], home: str) -> dict[str, Any]:
    """This run's values of the run params: the trigger's conf (validated), then what the asset
    events that started it announce (all their files; other settings must agree). Anything
    invalid fails the task without retries: retrying cannot fix a trigger."""
    params = context.get("params") or {}
    overrides = {
        rp.name: params[rp.name]
        for rp in pipeline.run_params
        if rp.name in params
        and params[rp.name] != pipeline.run_param_default(rp)
        and not (rp.optional and params[rp.name] is None)  # unset: the pipeline's own value
    }
    conf = dict(getattr(context.get("dag_run"), "conf", None) or {})
    problems = check_values(pipeline, home, conf, "the trigger's conf")
    extras = [event.extra for event in claimed_events(pipeline, context, home)]
    merged, disagreements = merge_event_extras(extras)
    problems += disagreements
    problems += check_values(pipeline, home, merged, "the asset events' extra")
    if problems:
        raise AirflowFailException("; ".join(problems))
    overrides.update(merged)
    return overrides


def claimed_events(pipeline: Pipeline, context: dict[str, Any], home: str) -> list[Event]:
    """The asset events this run trains on (see pipelines/asset_claims.py): its triggering events
    and any event of the same assets that no run took; none for a run not started by events.
    Raises AirflowSkipException when an earlier run already took every one of them."""
    triggering = [
        event
        for asset_events in (context.get("triggering_asset_events") or {}).values()
        for event in asset_events
    ]
    if not triggering:
        return []

    def as_event(event: Any) -> Event:
        stamp = event.timestamp.isoformat()
        extra = dict(getattr(event, "extra", None) or {})
        return Event(key=f"{event.asset.uri}@{stamp}", timestamp=stamp, extra=extra)

    def candidates() -> list[Event]:
        since = min(event.timestamp for event in triggering)
        inlets = context.get("inlet_events")
        found = []
        for asset in {id(e.asset): e.asset for e in triggering}.values():
            try:
                events = inlets[Asset(name=asset.name, uri=asset.uri)].after(since.isoformat())
            except (KeyError, TypeError):  # the task does not list the asset as an inlet
                continue
            found += [as_event(e) for e in events]
        return found

    dag_id = context["dag"].dag_id
    ledger = AssetClaims(asset_claims_path(home, pipeline.name, dag_id))
    claim = ledger.claim(context["run_id"], [as_event(e) for e in triggering], candidates)
    if not claim.events:
        taken = ", ".join(f"event {i} by run {r}" for i, r in sorted(claim.taken_by.items()))
        raise AirflowSkipException(f"nothing to train on: its data drops were taken ({taken})")
    return claim.events


Overrides = Callable[[Pipeline, dict[str, Any], str], dict[str, Any]]


def _this_run(
    pipeline_ref: str, home: str, step_name: str | None = None, overrides: Overrides | None = None
) -> tuple[Pipeline, RunLog, dict[str, Any]]:
    """This DAG run's pipeline (its overrides applied) and run record. A trigger that cannot
    work is recorded against ``step_name`` and fails the task without retries."""
    context = get_current_context()
    base = load_pipeline(pipeline_ref, home)
    run = RunLog(home, base.name, context["run_id"])
    started = getattr(context.get("dag_run"), "start_date", None)
    try:
        overrides = (overrides or run_overrides)(base, context, home)
        # Data a trigger named is confined to the data roots where the step matches and reads it.
        confined = confine(base, home, overrides)
        overrides = window_of_run(base, context, overrides)
        pipeline = base.with_overrides({**overrides, **confined})
    except AirflowSkipException as exc:  # nothing to do: recorded, and the report says why
        run.start({**_header(base, {}, started), "skipped": str(exc)})
        if step_name:
            raise
        return base, run, context
    except (AirflowFailException, TfpipeError) as exc:
        run.start(_header(base, {}, started))
        if step_name:
            step = base.step(step_name)
            failure = {"ok": False, "error": str(exc), "error_type": "ParameterError"}
            record_step(
                run,
                step_record(step.name, step.component, base.step_runtime(step), failure, seconds=0),
                context["ti"],
            )
        raise AirflowFailException(str(exc)) from None
    run.start(_header(pipeline, overrides, started))
    return pipeline, run, context


def window_of_run(
    pipeline: Pipeline, context: dict[str, Any], overrides: dict[str, Any]
) -> dict[str, Any]:
    """For a pipeline that trains on a window of daily partitions (see pipelines/data_interval.py):
    the files a trigger or data drop named become drops added to the window ending with their
    day; otherwise the window ends with the last whole day before the run's data interval ends
    (a manual run without one: before it was triggered)."""
    if not windowed_steps(pipeline):
        return overrides
    overrides = drop_overrides(pipeline, overrides)
    return {**overrides, **interval_overrides(pipeline, _interval(context)[1], overrides)}


def _interval(context: dict[str, Any]) -> tuple[Any, Any]:
    run = context.get("dag_run")
    start = getattr(run, "data_interval_start", None)
    end = getattr(run, "data_interval_end", None)
    if end is None:  # a manual run without a logical date: no data interval
        start = end = getattr(run, "run_after", None)
    return start, end


def _window_note(pipeline: Pipeline, step_name: str, context: dict[str, Any]) -> str:
    """Where a windowed step's data date came from, for its errors."""
    if step_name not in windowed_steps(pipeline):
        return ""
    day = pipeline.step_params(pipeline.step(step_name)).get(DATE_PARAM)
    note = interval_note(*_interval(context), day)
    return f" ({note})" if note else ""


def _header(pipeline: Pipeline, overrides: dict[str, Any], started: Any) -> dict[str, Any]:
    header = run_header(pipeline, "airflow", overrides)
    if started:
        header["started_at"] = started.isoformat(timespec="milliseconds")
    return header


STEP_RECORD_KEY = "tfpipe_step_record"


def record_step(run: RunLog, record: dict[str, Any], ti: Any) -> None:
    """Write a step record into the run's directory, and share it through XCom: with several
    workers (CeleryExecutor) each worker has its own home, and the report task, wherever it runs,
    gathers the records of steps that ran elsewhere (see ``gather_step_records``). A failed push
    fails the task (its retry finds the step cached and pushes again): a record that never
    reached XCom would be missing from another worker's report without a word."""
    record = {**record, "worker": hostname()}
    run.write_step(record)
    ti.xcom_push(key=STEP_RECORD_KEY, value=record)


def gather_step_records(run: RunLog, pipeline: Pipeline, context: dict[str, Any]) -> int:
    """Copy into this worker's run directory the step records other workers shared; returns how
    many were missing here."""
    local = run.steps()
    adopted = 0
    for step in pipeline.steps:
        if step.name in local:
            continue
        record = context["ti"].xcom_pull(task_ids=step.name, key=STEP_RECORD_KEY)
        if isinstance(record, dict) and record.get("step") == step.name:
            run.write_step(record)
            adopted += 1
    return adopted


def run_component(
    pipeline_ref: str,
    home: str,
    step_name: str,
    inputs: dict[str, dict[str, Any]],
    overrides: Overrides | None = None,
    member: tuple[TrainingCluster, Member] | None = None,
) -> dict[str, Any]:
    """The body of every step task: resolve the step from its upstream results, run it in its
    runtime, record it, and fail the task when the step failed. ``member``: this task is one
    member of the step's training cluster (see pipelines/training_cluster.py), run with its
    TF_CONFIG; only the chief records the step (another member's record would stand for the
    step in a report written on its host)."""
    if member is None:
        return _run_component(pipeline_ref, home, step_name, inputs, overrides)
    cluster, this = member
    watch = SiblingWatch([m for m in cluster.members if m != this], _sibling_states())
    with member_environment(cluster, this), watch:
        try:
            result = _run_component(
                pipeline_ref,
                home,
                step_name,
                inputs,
                overrides,
                record=this.is_chief,
                log_name=None if this.is_chief else this.task_id,
                stop=watch.stop,
            )
        except (AirflowFailException, RuntimeError) as exc:
            cause = f"stopped: {watch.reason}" if watch.reason else f"failed: {exc}"
            where = (
                f"training cluster member {this.name} (task {this.task_id}, host {hostname()}, "
                f"address {this.address}) {cause}; the cluster: {cluster.describe()}"
            )
            raise type(exc)(where) from None
    return {**result, "member": this.name, "host": hostname()}


def _sibling_states() -> Callable[[], dict[str, str]]:
    """This run's task states (task id -> state), from Airflow's execution API."""
    context = get_current_context()
    ti, dag_id, run_id = context["ti"], context["dag"].dag_id, context["run_id"]

    def states() -> dict[str, str]:
        found = ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id) or {}
        return {task: str(getattr(state, "value", state)) for task, state in found.items()}

    return states


def _run_component(
    pipeline_ref: str,
    home: str,
    step_name: str,
    inputs: dict[str, dict[str, Any]],
    overrides: Overrides | None = None,
    record: bool = True,
    log_name: str | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    pipeline, run, context = _this_run(pipeline_ref, home, step_name, overrides)
    step = pipeline.step(step_name)
    runtime = pipeline.step_runtime(step)

    def keep(done: dict[str, Any]) -> None:
        if record:
            record_step(run, done, context["ti"])

    try:
        inv = resolve_step(
            pipeline,
            step.name,
            {name: (up["uri"], up["fingerprint"]) for name, up in inputs.items()},
            home,
        )
        # What the inputs hold may show that a later step cannot work: stop before this one.
        check_ahead(
            pipeline,
            {src: inputs[name].get("summary") or {} for name, src in step.inputs.items()},
        )
    except TfpipeError as exc:  # refused before running: recorded, and not worth a retry
        message = f"{exc}{_window_note(pipeline, step.name, context)}"
        error = {"ok": False, "error": message, "error_type": type(exc).__name__}
        keep(step_record(step.name, step.component, runtime, error, seconds=0.0))
        raise AirflowFailException(
            f"step '{step.name}': {message}{airflow_hint(pipeline, str(exc))}"
        ) from None
    if is_committed(inv.uri):  # cached: no component process, no TensorFlow
        result, seconds, cpu = cached_result(inv), 0.0, 0.0
    else:
        from tfpipe.pipelines.report.ahead import SECTIONS_DIR, SectionsAhead

        # The upstream steps' report sections are drawn while this step's process runs (by the
        # task that records the step; a cluster's other members log under their own name).
        ahead = SectionsAhead(run.path(SECTIONS_DIR))
        recorded = run.steps() if record else {}
        for upstream in [*step.inputs.values(), *step.after]:
            if upstream in recorded:
                ahead.submit(recorded[upstream])
        try:
            result, seconds, cpu = run_step_process(
                inv,
                run.given_id,
                run.log_path(log_name or step.name),
                named=pipeline.environment,
                stop=stop,
            )
        finally:
            ahead.close()
    # A cluster member that commits nothing says which artifact it trained (the chief's).
    result = {"fingerprint": inv.fingerprint, **result}
    done = step_record(step.name, step.component, runtime, result, seconds=seconds, cpu_seconds=cpu)
    keep(done)
    if done["status"] == "failed":
        message = f"step '{step.name}' failed: {done.get('error')}"
        if done.get("error_type") in PERMANENT_ERRORS:
            # Bad parameters, data or user code: a retry would fail the same way.
            raise AirflowFailException(message + airflow_hint(pipeline, done.get("error", "")))
        raise RuntimeError(message)
    if done.get("halt"):
        raise AirflowFailException(f"step '{step.name}' stops the run: {done['halt']}")
    return {**result, "run_id": run.run_id}


PERMANENT_ERRORS = ("ParameterError", "InputDataError", "UserCodeError", "HaltedByInput")


def airflow_hint(pipeline: Pipeline, error: str) -> str:
    """Name the trigger parameter (or asset event extra) that sets what the error is about."""
    named = []
    for rp in pipeline.run_params:
        step, _, param = rp.target.partition(".")
        if rp.target in error or (param and f"{step}: {param}" in error):
            named.append(rp.name)
    if not named:
        return ""
    names = ", ".join(f"'{n}'" for n in named)
    return f" (set by the trigger parameter or asset event extra {names})"


# Schedule presets that are no cron expression.
NOT_CRON = ("@once", "@continuous")


def timetable(schedule: str | None) -> Any:
    """A pipeline's cron schedule as a timetable whose first run is the next scheduled time:
    unpausing a DAG that has never run on its schedule starts nothing (the trigger form's
    "unpause" box is sent alongside the trigger, so a refused trigger must not leave a run
    behind). With a start date, Airflow (catchup off) would start the latest past time at once."""
    if not schedule or schedule in NOT_CRON:
        return schedule
    return CronTriggerTimetable(schedule, timezone="UTC", run_immediately=timedelta(0))


def build_dag(
    pipeline_ref: str,
    *,
    dag_id: str | None = None,
    schedule: Any = "pipeline",
    home: str | None = None,
    tags: tuple[str, ...] = ("tfpipe",),
    overrides: Overrides | None = None,
    start_date: datetime | None = None,
    training_cluster: Mapping[str, Sequence[str]] | str | None = None,
    runtimes: Mapping[str, str] | None = None,
) -> DAG:
    """A DAG for ``pipeline_ref`` (a built-in name or a pipeline file).

    ``schedule="pipeline"`` uses the pipeline's own schedule; pass an Asset list for data-aware
    runs, or None for trigger-only. ``overrides``: how a run's trigger becomes run-param values
    (default :func:`run_overrides`; the scoring DAG reads pushed-model events too).

    A pipeline that trains on a window of daily partitions runs one DAG run at a time, so missed
    intervals (catch-up, a backfill created with ``--max-active-runs 1``) train in date order,
    each on the model the one before served; with ``start_date`` its scheduled DAG catches up
    every interval since then that has no run.

    ``training_cluster`` (e.g. ``{"chief": ["w1:2222"], "worker": ["w2:2222"]}``, or that as
    JSON): the training step trains on a cluster whose members are tasks of this DAG, each on the
    Celery queue named after its host, each with its TF_CONFIG (pipelines/training_cluster.py);
    one run at a time (the members listen on fixed ports). ``runtimes``
    (step → runtime): steps that run on another runtime than the pipeline's in this DAG, e.g.
    ``{<training step>: "estimator"}`` (a Keras model converted to an Estimator on a cluster).
    """
    home = home or default_home()
    pipeline = load_pipeline(pipeline_ref, home)
    overrides = _with_runtimes(pipeline, overrides, runtimes)
    cluster = _cluster_of(pipeline, training_cluster)
    members = cluster.members[1:] if cluster else []
    card = TriggerCard.of(pipeline)
    # Tasks of a data-driven DAG read the events of its assets (to claim drops; see
    # claimed_events), which Airflow allows for a task's inlets.
    inlets = schedule_assets(schedule)
    windowed = bool(windowed_steps(pipeline))
    with DAG(
        dag_id=dag_id or pipeline.name,
        description=pipeline.description,
        schedule=timetable(pipeline.schedule) if schedule == "pipeline" else schedule,
        start_date=start_date,
        catchup=windowed and start_date is not None,
        # A training cluster's members listen on fixed ports: one run of its DAG at a time.
        max_active_runs=1 if windowed or training_cluster else 4,
        # Every member of a training cluster runs at once (each on its own host).
        **({"max_active_tasks": max(len(members) + 1, _max_active_tasks())} if cluster else {}),
        params=dag_params(pipeline, card),
        tags=list(tags),  # the user's: tfpipe finds its DAGs by their card (below)
        # A data drop must start a run even before anyone looks at the UI; scheduled DAGs start
        # paused, so deploying them does not start training by surprise (see the README).
        is_paused_upon_creation=schedule == "pipeline" and bool(pipeline.schedule),
        doc_md=_dag_doc(pipeline),
        default_args={
            # What Airflow's API server needs to check a trigger and to find the run's report,
            # without running this file (see TriggerCard); Airflow stores it in the serialized DAG.
            CARD_KEY: card.to_json(),
            # Components are idempotent (cached by fingerprint, committed atomically), so a
            # retry after a crash or a kill is safe and resumes from the last checkpoint.
            "retries": DEFAULT_RETRIES,
            "retry_delay": timedelta(seconds=10),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(minutes=10),
        },
    ) as dag:
        results: dict[str, Any] = {}
        siblings: dict[str, list[Any]] = {}  # a cluster step's members other than its chief
        for step in pipeline.topological():
            spec = get_spec(step.component)
            outlets = [step_asset(pipeline.name, spec.outlet)] if spec.outlet else []

            upstream_results = {name: results[upstream] for name, upstream in step.inputs.items()}
            if cluster and step.name == cluster.step:
                tasks = [
                    _member_task(pipeline_ref, home, overrides, cluster, m, spec.description)(
                        upstream_results
                    )
                    for m in cluster.members
                ]
                results[step.name], siblings[step.name] = tasks[0], tasks[1:]
            else:

                @task(task_id=step.name, doc_md=spec.description, outlets=outlets, inlets=inlets)
                def run_step(
                    upstream: dict[str, Any], step_name: str = step.name
                ) -> dict[str, Any]:
                    result = run_component(pipeline_ref, home, step_name, upstream, overrides)
                    _announce(step_name, pipeline_ref, home, result)
                    return result

                results[step.name] = run_step(upstream_results)
            for upstream in [*step.inputs.values(), *step.after]:
                # A failed member of an upstream training cluster stops the steps after it.
                for sibling in siblings.get(upstream, []):
                    sibling >> results[step.name]
            for upstream in step.after:  # order only: no data passes
                results[upstream] >> results[step.name]

        @task(
            task_id="report",
            trigger_rule="all_done",
            retries=0,
            doc_md="Writes the run record and the HTML report, whatever happened upstream.",
        )
        def report(step_results: dict[str, Any]) -> str:
            return write_report(pipeline_ref, home, overrides)

        reported = report(results)
        for tasks in siblings.values():
            for sibling in tasks:
                sibling >> reported
    return dag


def _member_task(
    pipeline_ref: str,
    home: str,
    overrides: Overrides | None,
    cluster: TrainingCluster,
    member: Member,
    description: str,
) -> Any:
    """The task of one training-cluster member, on its host's queue; the chief's is the step's."""

    @task(
        task_id=member.task_id,
        queue=member.host,
        doc_md=f"{description}\n\nTraining cluster member {member.name} at {member.address}.",
    )
    def run_member(upstream: dict[str, Any]) -> dict[str, Any]:
        return run_component(
            pipeline_ref, home, cluster.step, upstream, overrides, (cluster, member)
        )

    return run_member


def _cluster_of(
    pipeline: Pipeline, spec: Mapping[str, Sequence[str]] | str | None
) -> TrainingCluster | None:
    """The training cluster of the pipeline's training step (there must be exactly one)."""
    if not spec:
        return None
    trainers = [s.name for s in pipeline.steps if get_spec(s.component).trains_on_cluster]
    if len(trainers) != 1:
        raise ParameterError(
            f"training_cluster: pipeline '{pipeline.name}' has {len(trainers)} trainer steps "
            f"({trainers}); a training cluster needs exactly one"
        )
    return TrainingCluster.of(spec, trainers[0])


def _with_runtimes(
    pipeline: Pipeline, overrides: Overrides | None, runtimes: Mapping[str, str] | None
) -> Overrides | None:
    """A run's overrides plus this DAG's fixed step runtimes (checked now, at parse time)."""
    if not runtimes:
        return overrides
    fixed = {f"{step}.runtime": runtime for step, runtime in runtimes.items()}
    pipeline.with_overrides(fixed)  # an unknown step or runtime fails the DAG file, named
    given = overrides or run_overrides

    def with_runtimes(base: Pipeline, context: dict[str, Any], home: str) -> dict[str, Any]:
        return {**given(base, context, home), **fixed}

    return with_runtimes


def _max_active_tasks() -> int:
    from airflow.configuration import conf

    return conf.getint("core", "max_active_tasks_per_dag")


def write_report(pipeline_ref: str, home: str, overrides: Overrides | None = None) -> str:
    """Finish this DAG run's record from its step records and render its report. Fails, after
    writing both, when a step did not complete, so the DAG run's state stays honest."""
    pipeline, run, context = _this_run(pipeline_ref, home, overrides=overrides)
    gather_step_records(run, pipeline, context)
    from tfpipe.pipelines.report.ahead import SECTIONS_DIR, SectionsAhead

    # Sections the step tasks drew on this worker are used as they are (see report/ahead.py).
    record = finish_run(run, ahead=SectionsAhead(run.path(SECTIONS_DIR)))
    if record["status"] == "skipped":
        raise AirflowSkipException(record["skipped"])
    if record["status"] != "succeeded":
        raise RuntimeError(f"{record.get('error')}; report: {record.get('report')}")
    return str(record.get("report"))


def _announce(step_name: str, pipeline_ref: str, home: str, result: dict[str, Any]) -> None:
    """Attach the component's announcement to its outlet's asset event, or skip the task (no
    event) when this result is nothing to announce."""
    context = get_current_context()
    outlets = context["task"].outlets
    if not outlets:
        return
    pipeline = load_pipeline(pipeline_ref, home)
    spec = get_spec(pipeline.step(step_name).component)
    extra = spec.announce(result.get("summary", {})) if spec.announce else {}
    if extra is None or result.get("cached"):
        # Skipping is how a task with an outlet emits no event; its result still goes to XCom.
        context["ti"].xcom_push(key="return_value", value=result)
        raise AirflowSkipException(
            "nothing new to announce"
            + (" (cached: this was announced when it was made)" if result.get("cached") else "")
        )
    for asset in outlets:
        context["outlet_events"][asset].extra = {**extra, "run_id": result.get("run_id")}


def _dag_doc(pipeline: Pipeline) -> str:
    steps = " → ".join(s.name for s in pipeline.topological())
    params = "\n".join(
        f"- `{p.name}` → `{p.target}`: {pipeline.run_param_description(p)}"
        for p in pipeline.run_params
    )
    return (
        f"### {pipeline.name}\n{pipeline.description}\n\n{steps}\n\nRuntime: "
        f"`{pipeline.runtime}`. Per-run parameters (trigger form / REST conf):\n{params}"
    )


__all__ = ["build_dag", "data_asset", "default_home", "predictions_asset", "pushed_model_asset"]
