"""tfpipe's Airflow plugin: results in the UI and triggers checked before a run exists.

- ``/tfpipe/reports/<dag_id>/<run_id>``: the run's HTML report, served by the API server to users
  allowed to read the DAG, with a Content-Security-Policy that lets it run no script; a "Report"
  tab on every DAG run's page shows it, and each run's note links it.
- A middleware on ``POST /api/v2/dags/<dag_id>/dagRuns`` and ``POST /api/v2/assets/events``
  refuses (HTTP 400, no run created) conf keys a tfpipe DAG does not have, values its parameters
  refuse, and data paths outside the configured roots: the checks the tasks apply again to asset
  events that do not come through the REST API (producer DAGs' outlets). It speaks only to a
  request Airflow itself would carry out: it authenticates and authorises it with Airflow's own
  functions first, and hands anything else to Airflow untouched, so an unauthenticated client
  gets Airflow's 401/403 and learns nothing. It reads at most ``MAX_BODY`` bytes, checks from the
  DAG's card in Airflow's serialized DAG (no pipeline file runs in the API server), and refuses
  (HTTP 503) rather than let a trigger through unchecked when its own check fails.
- When a tfpipe DAG run ends, its note says whether the model was blessed and pushed, with the
  headline metrics and the report's link (Markdown, as Airflow's note view renders it).
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any
from urllib.parse import quote, urlparse

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from tfpipe.pipelines.triggers import AIRFLOW_EXTRA_KEYS, CARD_KEY, TriggerCard

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20  # a trigger is a few run parameters: 1 MiB is generous
RUN_PATH = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns$")
EVENTS_PATH = "/api/v2/assets/events"
NOTE_LIMIT = 1000  # Airflow's dag_run_note.content column


def card_of(dag: Any) -> TriggerCard | None:
    """The tfpipe card of a DAG (serialized or not); None for a DAG tfpipe did not build."""
    return TriggerCard.from_json((getattr(dag, "default_args", None) or {}).get(CARD_KEY))


def card_of_dag_id(dag_id: str, session: Any = None) -> TriggerCard | None:
    """The card in the latest serialized version of ``dag_id``: read from Airflow's database,
    without running the DAG file."""
    from airflow.models.serialized_dag import SerializedDagModel

    kwargs = {"session": session} if session is not None else {}
    dag = SerializedDagModel.get_dag(dag_id, **kwargs)
    return card_of(dag) if dag is not None else None


def report_path(dag_id: str, run_id: str) -> str | None:
    from tfpipe.pipelines.home import default_home
    from tfpipe.pipelines.runs import RunLog

    card = card_of_dag_id(dag_id)
    if card is None:
        return None
    return RunLog(default_home(), card.pipeline, run_id).report_path


def report_url(dag_id: str, run_id: str) -> str:
    """The report's URL path on this Airflow (under its base URL's path, if any)."""
    from airflow.configuration import conf

    base = urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{base}/tfpipe/reports/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


class RunReportLink(BaseOperatorLink):
    name = "Run report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if card_of(getattr(operator, "dag", None)) is None:
            return ""
        return report_url(ti_key.dag_id, ti_key.run_id)


def _reports_app() -> Any:
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    from tfpipe.components.core.presentation import render
    from tfpipe.pipelines.report.render import CSP_HEADER

    app = FastAPI(title="tfpipe reports")
    headers = {
        "Content-Security-Policy": CSP_HEADER,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }

    @app.get(
        "/reports/{dag_id}/{run_id}",
        dependencies=[Depends(requires_access_dag(method="GET"))],
        response_class=HTMLResponse,
    )
    def report(dag_id: str, run_id: str) -> Any:
        path = report_path(dag_id, run_id)
        if path is None or not os.path.isfile(path):
            why = (
                "not a tfpipe DAG: it has no run report"
                if path is None
                else "no report yet: the run's last task (report) writes it"
            )
            page = render(
                "<!doctype html><title>no report</title><p>{{ dag }} / {{ run }}: {{ why }}</p>",
                dag=dag_id,
                run=run_id,
                why=why,
            )
            return HTMLResponse(str(page), status_code=404, headers=headers)
        with open(path, encoding="utf-8") as f:
            return HTMLResponse(f.read(), headers=headers)

    return app


class BodyTooLarge(Exception):
    pass


class TriggerValidation:
    """ASGI middleware: check tfpipe DAG triggers and asset events before Airflow stores them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        target = _target(scope)
        if target is None:
            await self.app(scope, receive, send)
            return
        try:
            allowed = await _airflow_would_serve(scope, target)
        except Exception:  # whatever it is, Airflow answers it itself
            log.exception("tfpipe: could not authenticate a trigger; Airflow answers it")
            allowed = False
        if not allowed:  # Airflow's own 401/403 (or whatever it says): we say nothing
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(scope, receive)
        except BodyTooLarge:
            await _answer(send, 413, f"a trigger's body may hold at most {MAX_BODY} bytes")
            return
        from starlette.concurrency import run_in_threadpool

        try:
            problems = await run_in_threadpool(_problems, target, body)
        except Exception:  # refuse rather than start a run nobody checked
            log.exception("tfpipe: trigger check failed for %s", target)
            await _answer(
                send,
                503,
                "tfpipe could not check this trigger, so nothing was started; the API server's "
                "log says why",
            )
            return
        if problems:
            await _answer(send, 400, "; ".join(problems))
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _target(scope: dict) -> tuple[str, str] | None:
    """("run", dag_id) for a trigger, ("event", "") for an asset event, None for the rest."""
    if scope.get("type") != "http" or scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if path == EVENTS_PATH:
        return ("event", "")
    match = RUN_PATH.match(path)
    return ("run", match["dag_id"]) if match else None


async def _airflow_would_serve(scope: dict, target: tuple[str, str]) -> bool:
    """Whether Airflow's own authentication and authorisation of the endpoint let this request
    through: the same functions its routes depend on (``get_user``: bearer token, else the UI's
    ``_token`` cookie or a user an auth manager's middleware vouched for; then
    ``requires_access_dag`` / ``requires_access_asset``)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import (
        bearer_scheme,
        get_user,
        requires_access_asset,
        requires_access_dag,
    )
    from fastapi import HTTPException
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request

    request = Request(scope)
    try:
        user = await get_user(request, None, await bearer_scheme(request))
        kind, dag_id = target
        if kind == "run":
            check = requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=dag_id)
        else:
            check = requires_access_asset("POST")
        await run_in_threadpool(check, request, user)
    except HTTPException:
        return False
    return True


async def _read_body(scope: dict, receive: Any) -> bytes:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
            raise BodyTooLarge
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_BODY:
            raise BodyTooLarge
        more = message.get("more_body", False)
    return body


async def _answer(send: Any, status: int, detail: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


def _problems(target: tuple[str, str], body: bytes) -> list[str]:
    from tfpipe.pipelines.home import default_home

    try:
        payload = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []  # Airflow answers malformed JSON itself (422)
    if not isinstance(payload, dict):
        return []
    home = default_home()
    kind, dag_id = target
    if kind == "run":
        card = card_of_dag_id(dag_id)
        conf = payload.get("conf") or {}
        if card is None or not isinstance(conf, dict):
            return []  # not tfpipe's, or a conf Airflow refuses itself
        return card.check(home, conf, f"conf of {dag_id}")
    extra = payload.get("extra") or {}
    if not isinstance(extra, dict):
        return []
    extra = {k: v for k, v in extra.items() if k not in AIRFLOW_EXTRA_KEYS}
    problems = []
    for consumer in _consumers(payload.get("asset_id")):
        card = card_of_dag_id(consumer)
        if card is not None:
            problems += card.check(home, extra, f"the event's extra (for DAG {consumer})")
    return problems


def _consumers(asset_id: Any) -> list[str]:
    from airflow.models.asset import DagScheduleAssetReference
    from airflow.utils.session import create_session

    if not isinstance(asset_id, int):
        return []
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
            card = card_of(getattr(dag_run, "dag", None)) or card_of_dag_id(dag_run.dag_id, session)
            if card is None:
                return
            text = run_note(card, dag_run.dag_id, dag_run.run_id)
            if text:
                # A plain string: a run cleared and finished again already has a note, whose
                # content the association proxy sets to the value as given (a tuple there fails
                # the scheduler's flush and stops the scheduler).
                dag_run.note = text
        except Exception:
            log.exception("tfpipe: could not write the run note")


MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def md(text: Any) -> str:
    """Text shown as itself in Markdown (no emphasis, links or HTML from data or errors)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def run_note(card: TriggerCard, dag_id: str, run_id: str) -> str | None:
    """The run's outcome in Markdown for Airflow's note view: the status line with the report's
    link first (so a long note can never lose it), then a bullet per step the note shows (the
    blessing and metrics, the push) or that failed."""
    from tfpipe.components import get_spec
    from tfpipe.pipelines.home import default_home
    from tfpipe.pipelines.runs import RunLog

    record = RunLog(default_home(), card.pipeline, run_id).record()
    head = (
        f"**tfpipe: {md(record['status'])}** in {record.get('seconds') or 0:.0f} s · "
        f"[open the run report]({report_url(dag_id, run_id)})"
    )
    if record.get("skipped"):
        head += f"\n\nnothing ran: {md(record['skipped'])}"
    bullets = []
    for step in record["steps"]:
        spec = get_spec(step["component"])
        if step.get("status") == "failed":
            bullets.append(f"- **{md(step['step'])}** failed: {md(str(step.get('error'))[:300])}")
        elif step.get("summary") and spec.in_run_note:
            bullets.append(f"- **{md(step['step'])}**: {md(spec.describe(step))}")
    text = head
    for bullet in bullets:
        if len(text) + 2 + len(bullet) > NOTE_LIMIT:
            break
        text += ("\n\n" if text == head else "\n") + bullet
    return text


class TfpipePlugin(AirflowPlugin):
    name = "tfpipe"
    # Airflow's plugin contract: class-level lists.
    global_operator_extra_links = [RunReportLink()]  # noqa: RUF012
    listeners = [RunNotes()]  # noqa: RUF012
    fastapi_apps = [{"name": "tfpipe", "app": _reports_app(), "url_prefix": "/tfpipe"}]  # noqa: RUF012
    fastapi_root_middlewares = [  # noqa: RUF012
        {"name": "tfpipe trigger validation", "middleware": TriggerValidation}
    ]
    # A "Report" tab on every DAG run's page (Airflow shows it in a sandboxed frame; for a DAG
    # tfpipe did not build it says so).
    external_views = [  # noqa: RUF012
        {
            "name": "Report",
            "href": "/tfpipe/reports/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "tfpipe_report",
        }
    ]
