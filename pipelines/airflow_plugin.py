"""tfpipe's Airflow plugin: results in the UI and triggers checked before a run exists.

- ``/tfpipe/reports/<dag_id>/<run_id>``: the run's HTML report, served by the API server to users
  allowed to read the DAG; every tfpipe task shows a "Run report" link to it.
- A middleware on ``POST /api/v2/dags/<dag_id>/dagRuns`` and ``POST /api/v2/assets/events`` refuses
  (HTTP 400, no run created) conf keys a tfpipe DAG does not have, values its parameters refuse, and
  data paths outside the configured roots, the same checks the tasks apply to asset events that do
  not come through the REST API (producer DAGs' outlets).
- When a tfpipe DAG run ends, its note says whether the model was blessed and pushed, with the
  headline metrics, so the result is visible in the runs list.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

log = logging.getLogger(__name__)
PIPELINE_TAG = "tfpipe-pipeline:"
REF_TAG = "tfpipe-ref:"


def report_path(dag_id: str, run_id: str) -> str | None:
    from tfpipe.pipelines.home import default_home
    from tfpipe.pipelines.runs import RunLog

    pipeline = _pipeline_of(dag_id)
    if pipeline is None:
        return None
    return RunLog(default_home(), pipeline, run_id).report_path


def _pipeline_of(dag_id: str, session: Any = None) -> str | None:
    """The tfpipe pipeline a DAG runs (from its tag), or None for other DAGs."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    if session is None:
        with create_session() as own:
            return _pipeline_of(dag_id, own)
    dag = session.get(DagModel, dag_id)
    tags = [t.name for t in dag.tags] if dag is not None else []
    return next((t[len(PIPELINE_TAG) :] for t in tags if t.startswith(PIPELINE_TAG)), None)


class RunReportLink(BaseOperatorLink):
    name = "Run report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if not any(str(t).startswith(PIPELINE_TAG) for t in getattr(operator.dag, "tags", [])):
            return ""
        return f"/tfpipe/reports/{ti_key.dag_id}/{ti_key.run_id}"


def _reports_app() -> Any:
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import FileResponse

    app = FastAPI(title="tfpipe reports")

    @app.get(
        "/reports/{dag_id}/{run_id}",
        dependencies=[Depends(requires_access_dag(method="GET"))],
    )
    def report(dag_id: str, run_id: str) -> Any:
        path = report_path(dag_id, run_id)
        if path is None or not os.path.isfile(path):
            raise HTTPException(404, f"no tfpipe report for {dag_id} / {run_id} (yet)")
        return FileResponse(path, media_type="text/html")

    return app


class TriggerValidation:
    """ASGI middleware: check tfpipe DAG triggers and asset events before Airflow stores them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope.get("type") != "http"
            or scope.get("method") != "POST"
            or not (
                (path.startswith("/api/v2/dags/") and path.endswith("/dagRuns"))
                or path == "/api/v2/assets/events"
            )
        ):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        from starlette.concurrency import run_in_threadpool

        problems = await run_in_threadpool(_problems, path, body)
        if problems:
            payload = json.dumps({"detail": "; ".join(problems)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _problems(path: str, body: bytes) -> list[str]:
    try:
        payload = json.loads(body or b"{}")
    except json.JSONDecodeError:
        return []  # Airflow answers malformed JSON itself
    try:
        if path.endswith("/dagRuns"):
            dag_id = path[len("/api/v2/dags/") : -len("/dagRuns")]
            checks = _dag_checks(dag_id)
            conf = payload.get("conf") or {}
            return checks(conf, f"conf of {dag_id}") if checks else []
        asset_id = payload.get("asset_id")
        from tfpipe.pipelines.triggers import AIRFLOW_EXTRA_KEYS

        extra = {
            k: v for k, v in (payload.get("extra") or {}).items() if k not in AIRFLOW_EXTRA_KEYS
        }
        problems = []
        for dag_id in _consumers(asset_id):
            checks = _dag_checks(dag_id)
            if checks:
                problems += checks(extra, f"the event's extra (for DAG {dag_id})")
        return problems
    except Exception:  # never block Airflow on our own failure; the tasks check again
        log.exception("tfpipe: trigger validation failed")
        return []


def _dag_checks(dag_id: str) -> Any:
    pipeline_name = _pipeline_of(dag_id)
    if pipeline_name is None:
        return None
    from tfpipe.pipelines.home import default_home
    from tfpipe.pipelines.registry import load_pipeline
    from tfpipe.pipelines.triggers import check_values

    home = default_home()
    pipeline = load_pipeline(_pipeline_ref(dag_id, pipeline_name), home)
    return lambda values, source: check_values(pipeline, home, values, source)


def _pipeline_ref(dag_id: str, pipeline_name: str) -> str:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = session.get(DagModel, dag_id)
        tags = [t.name for t in dag.tags] if dag is not None else []
    ref = next((t[len(REF_TAG) :] for t in tags if t.startswith(REF_TAG)), None)
    return ref or pipeline_name


def _consumers(asset_id: Any) -> list[str]:
    from airflow.models.asset import DagScheduleAssetReference
    from airflow.utils.session import create_session

    with create_session() as session:
        refs = session.query(DagScheduleAssetReference).filter_by(asset_id=asset_id).all()
        return [r.dag_id for r in refs]


class RunNotes:
    """Listener: a finished tfpipe DAG run's note says what it produced."""

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._note(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._note(dag_run)

    @staticmethod
    def _note(dag_run: Any) -> None:
        """Written through the scheduler's own session (a second session would wait on the
        scheduler's open transaction: SQLite has one writer)."""
        try:
            from sqlalchemy.orm import object_session

            session = object_session(dag_run)
            if session is None:
                return  # a detached run (dag.test): nothing to write through
            text = run_note(dag_run.dag_id, dag_run.run_id, session)
            if text:
                dag_run.note = (text, None)
        except Exception:
            log.exception("tfpipe: could not write the run note")


def run_note(dag_id: str, run_id: str, session: Any = None) -> str | None:
    from tfpipe.components import get_spec
    from tfpipe.pipelines.home import default_home
    from tfpipe.pipelines.runs import RunLog

    pipeline = _pipeline_of(dag_id, session)
    if pipeline is None:
        return None
    record = RunLog(default_home(), pipeline, run_id).record()
    lines = [f"tfpipe: {record['status']} in {record.get('seconds', 0):.0f} s"]
    for step in record["steps"]:
        if step.get("status") == "failed":
            lines.append(f"{step['step']} failed: {step.get('error', '')[:300]}")
        elif step.get("summary") and get_spec(step["component"]).in_run_note:
            spec = get_spec(step["component"])
            lines.append(f"{step['step']}: {spec.summary_line(step['summary'])}")
    lines.append(f"report: /tfpipe/reports/{dag_id}/{run_id}")
    return "\n".join(lines)[:1000]


class TfpipePlugin(AirflowPlugin):
    name = "tfpipe"
    # Airflow's plugin contract: class-level lists.
    global_operator_extra_links = [RunReportLink()]  # noqa: RUF012
    listeners = [RunNotes()]  # noqa: RUF012
    fastapi_apps = [{"name": "tfpipe", "app": _reports_app(), "url_prefix": "/tfpipe"}]  # noqa: RUF012
    fastapi_root_middlewares = [  # noqa: RUF012
        {"name": "tfpipe trigger validation", "middleware": TriggerValidation}
    ]
