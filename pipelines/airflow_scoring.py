"""The scoring DAG of a pipeline: ``build_scoring_dag("penguins")``, built by ``build_dag`` from the
pipeline's scoring pipeline (one ``bulk_inferrer`` task and the report task).

It runs when either asset is updated:

- ``<pipeline>_data`` (a data drop): the drop's files are scored with the served model (latest);
- ``<pipeline>_pushed_model`` (a push): when the pipeline's ``Scoring(rescore_on_push=True)``,
  the latest drop is re-scored with the new version; otherwise the run is skipped.

Each run emits ``<pipeline>_predictions``, whose extra names the output URI, its files and the
model version, for the DAGs downstream (see ``dags/penguins_predictions_consumer.py``). Events are
claimed like the training DAG's (pipelines/asset_claims.py): each drop and each push is scored
once, also when Airflow hands several events to one run. Before a model is served, a drop is
skipped, not failed: the push that follows re-scores it (with ``rescore_on_push``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.pipelines.airflow_dag import (
    build_dag,
    claimed_events,
    data_asset,
    pushed_model_asset,
    run_overrides,
)
from tfpipe.pipelines.definition import Pipeline
from tfpipe.pipelines.home import default_home
from tfpipe.pipelines.registry import SCORING, load_pipeline
from tfpipe.pipelines.scoring import STEP
from tfpipe.pipelines.triggers import check_values, merge_event_extras


def build_scoring_dag(
    pipeline_ref: str,
    *,
    dag_id: str | None = None,
    home: str | None = None,
    tags: tuple[str, ...] = ("tfpipe", "scoring"),
) -> DAG:
    """The scoring DAG of ``pipeline_ref`` (a built-in name or a pipeline file), started by its
    data drops and its pushed models; ``dag_id`` defaults to ``<pipeline>_scoring``."""
    home = home or default_home()
    name = load_pipeline(pipeline_ref, home).name
    return build_dag(
        SCORING + pipeline_ref,
        dag_id=dag_id or f"{name}_scoring",
        schedule=data_asset(name) | pushed_model_asset(name),
        home=home,
        tags=tags,
        overrides=scoring_overrides,
    )


def scoring_overrides(pipeline: Pipeline, context: dict[str, Any], home: str) -> dict[str, Any]:
    """A scoring run's ``data`` and ``model_version`` from the events it claimed: drops' files,
    the newest pushed version, or, for a push alone, the latest drop. A run triggered by hand
    (UI, REST) takes its conf, as every DAG does."""
    events = claimed_events(pipeline, context, home)
    if not events:
        return run_overrides(pipeline, context, home)
    drops = [e for e in events if _asset_uri(e.key) == data_asset(pipeline.name).uri]
    pushes = [e for e in events if _asset_uri(e.key) == pushed_model_asset(pipeline.name).uri]
    values: dict[str, Any] = {}
    merged, problems = merge_event_extras(
        [{"data": e.extra["data"]} for e in drops if "data" in e.extra]
    )
    values.update(merged)
    versions = [int(e.extra["version"]) for e in pushes if e.extra.get("version") is not None]
    if versions:
        values["model_version"] = max(versions)
    if not drops:
        if not pipeline.scoring.rescore_on_push:
            raise AirflowSkipException(
                "a new model was pushed; this pipeline does not re-score on a push "
                "(Scoring(rescore_on_push=True) would)"
            )
        latest = latest_drop(pipeline, context)
        if latest is None:
            raise AirflowSkipException("a new model was pushed, and no data drop to re-score yet")
        values["data"] = latest
    elif _served_version(pipeline) is None:
        raise AirflowSkipException(
            "no model is served yet: this drop is scored when one is pushed"
            if pipeline.scoring.rescore_on_push
            else "no model is served yet: nothing to score this drop with"
        )
    problems += check_values(pipeline, home, values, "the asset events' extra")
    if problems:
        raise AirflowFailException("; ".join(problems))
    return values


def latest_drop(pipeline: Pipeline, context: dict[str, Any]) -> Any:
    """The files of the newest data drop that named some (Airflow's history of the data asset)."""
    try:
        events = context["inlet_events"][data_asset(pipeline.name)].ascending(False).limit(50)
    except (KeyError, TypeError):
        return None
    for event in events:
        data = (getattr(event, "extra", None) or {}).get("data")
        if data:
            return data
    return None


def _asset_uri(event_key: str) -> str:
    return event_key.rpartition("@")[0]


def _served_version(pipeline: Pipeline) -> int | None:
    serving = ServingDirectory.at(pipeline.step(STEP).params.get("serving_model_dir"))
    return serving.latest() if serving else None
