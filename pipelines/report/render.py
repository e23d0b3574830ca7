"""Render a run's report: ``<run dir>/report.html``, one self-contained page (plots embedded).

The page is the run's header, its DAG and steps table, then each step's own section, which its
component renders (``ComponentSpec.report_section``): this module knows no component by name.
Everything goes through the autoescaping templates of ``components/core/presentation.py``. The
page runs no script and loads nothing: its Content-Security-Policy (:data:`CSP`, in the page and
in the HTTP header wherever it is served) allows only its own stylesheet and embedded images.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.core.presentation import img, render, table
from tfpipe.pipelines.report.ahead import SectionsAhead, has_section, render_section
from tfpipe.pipelines.report.dag import dag_figure
from tfpipe.pipelines.runs import RunLog

STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
color: #222; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ccc;
padding: .25rem .6rem; text-align: left; font-size: .9rem; } .pass { color: #2e7d32; }
.fail { color: #c62828; font-weight: bold; } img { max-width: 100%; } code { font-size: .85rem; }
tr.fail td { color: #c62828; } ul.outcome { font-size: 1.05rem; }"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# No script, no fetch, no form, no base: only the stylesheet above (by its hash) and embedded PNGs.
CSP_DIRECTIVES = (
    "default-src 'none'",
    f"style-src 'sha256-{_STYLE_HASH}'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
)
CSP = "; ".join(CSP_DIRECTIVES)
# Served over HTTP the page may be framed only by its own origin (Airflow's run page tab).
CSP_HEADER = CSP + "; frame-ancestors 'self'"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<title>tfpipe {{ run_id }}</title><style>{{ style }}</style></head>
<body>
<h1>tfpipe run <code>{{ run_id }}</code> — {{ r.pipeline }}</h1>
<p>status <b>{{ r.status }}</b>, runner {{ r.runner|fmt }}, runtime {{ r.runtime|fmt }},
{{ "%.1f"|format(r.seconds) }} s wall, {{ "%.1f"|format(r.cpu_seconds) }} CPU s,
started {{ r.started_at|fmt }}; overrides <code>{{ overrides }}</code></p>
{% if outcome %}<ul class="outcome">
{% for step, line in outcome %}<li><b>{{ step }}</b>: {{ line }}</li>
{% endfor %}</ul>{% endif %}
{% if r.error %}<p class="fail">{{ r.error }}</p>{% endif %}
{% if r.skipped %}<p>nothing ran: {{ r.skipped }}</p>{% endif %}
<h2>Pipeline</h2>
{{ graph }}
{{ steps }}
{% for s in sections %}{{ s }}
{% endfor %}
</body></html>
"""


def edges(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(upstream, downstream) pairs from the planned wiring (there even when a step failed)."""
    return [
        (upstream, s["step"])
        for s in record["steps"]
        for upstream in [*(s.get("inputs") or {}).values(), *(s.get("after") or [])]
    ]


def summary_line(step: dict[str, Any]) -> str:
    """A step's line: its error, or what its result says (see ``ComponentSpec.describe``)."""
    if step.get("status") == "failed":
        return str(step.get("error", ""))
    return get_spec(step["component"]).describe(step)


def outcome(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The run's outcome in a few lines at the top: the steps whose result is the outcome (the
    blessing and metrics, the push), as in the Airflow run's note."""
    return [
        (s["step"], summary_line(s))
        for s in record["steps"]
        if s.get("status") in ("executed", "cached")
        and s.get("summary")
        and get_spec(s["component"]).in_run_note
    ]


def steps_table(record: dict[str, Any]) -> Any:
    rows = [
        (
            s["step"],
            s.get("status"),
            f"{s.get('seconds', 0):.2f}" if "seconds" in s else "",
            s.get("cpu_seconds", ""),
            summary_line(s),
            render("<code>{{ f }}</code>", f=s.get("fingerprint", "")),
        )
        for s in record["steps"]
    ]
    return table(("step", "status", "seconds", "CPU s", "result", "fingerprint"), rows)


def render_page(record: dict[str, Any], run: RunLog, ahead: SectionsAhead | None = None) -> str:
    """The report's HTML for ``record``; sections ``ahead`` rendered already are reused."""
    if ahead is not None:
        ahead.close()
    wiring = {p["step"]: p for p in (run.header() or {}).get("plan", [])}
    steps = [
        {
            **s,
            "inputs": wiring.get(s["step"], {}).get("inputs", s.get("inputs", {})),
            "after": wiring.get(s["step"], {}).get("after", []),
        }
        for s in record["steps"]
    ]
    sections = []
    for step in record["steps"]:
        if not has_section(step):
            continue
        section = ahead.take(step) if ahead is not None else None
        if section is None:
            section = render_section(step)
        if section:
            sections.append(section)
    return str(
        render(
            PAGE,
            csp=CSP,
            style=render(STYLE),  # a constant: its hash is in the policy
            run_id=record.get("given_id") or record["run_id"],
            r={
                "pipeline": record["pipeline"],
                "status": record.get("status"),
                "runner": record.get("runner"),
                "runtime": record.get("runtime"),
                "seconds": record.get("seconds") or 0,
                "cpu_seconds": record.get("cpu_seconds") or 0,
                "started_at": record.get("started_at"),
                "error": record.get("error"),
                "skipped": record.get("skipped"),
            },
            overrides=json.dumps(record.get("overrides", {})),
            outcome=outcome(record),
            graph=img(dag_figure(steps, edges({"steps": steps})), "DAG"),
            steps=steps_table(record),
            sections=sections,
        )
    )


def render_report(record: dict[str, Any], run: RunLog, ahead: SectionsAhead | None = None) -> str:
    """Write the report for ``record`` and return its path."""
    page = render_page(record, run, ahead)
    path = run.report_path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
