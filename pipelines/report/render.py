"""Render a run's report: ``<run dir>/report.html``, one self-contained page (plots embedded).

The page is the run's header, its DAG and steps table, then each step's own section, which its
component renders (``ComponentSpec.report_section``): this module knows no component by name.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.artifacts import is_committed, open_artifact
from tfpipe.components.core.presentation import esc, img, table
from tfpipe.pipelines.report.dag import dag_figure
from tfpipe.pipelines.runs import RunLog

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ccc;
padding: .25rem .6rem; text-align: left; font-size: .9rem; } .pass { color: #2e7d32; }
.fail { color: #c62828; font-weight: bold; } img { max-width: 100%; } code { font-size: .85rem; }
"""


def edges(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(upstream, downstream) pairs from the planned wiring (there even when a step failed)."""
    return [
        (upstream, s["step"])
        for s in record["steps"]
        for upstream in [*(s.get("inputs") or {}).values(), *(s.get("after") or [])]
    ]


def summary_line(step: dict[str, Any]) -> str:
    if step.get("status") == "failed":
        return str(step.get("error", ""))
    if not step.get("summary"):
        return ""
    return get_spec(step["component"]).summary_line(step["summary"])


def steps_table(record: dict[str, Any]) -> str:
    rows = [
        (
            s["step"],
            s.get("status"),
            f"{s.get('seconds', 0):.2f}" if "seconds" in s else "",
            s.get("cpu_seconds", ""),
            summary_line(s),
            f"<code>{esc(s.get('fingerprint', ''))}</code>",
        )
        for s in record["steps"]
    ]
    rows = [(*(esc(c) for c in r[:-1]), r[-1]) for r in rows]
    return table(("step", "status", "seconds", "CPU s", "result", "fingerprint"), rows, raw=True)


def render_report(record: dict[str, Any], run: RunLog) -> str:
    """Write the report for ``record`` and return its path."""
    wiring = {p["step"]: p for p in (run.header() or {}).get("plan", [])}
    steps = [
        {
            **s,
            "inputs": wiring.get(s["step"], {}).get("inputs", s.get("inputs", {})),
            "after": wiring.get(s["step"], {}).get("after", []),
        }
        for s in record["steps"]
    ]
    parts = [
        f"<h1>tfpipe run <code>{esc(record['run_id'])}</code> — {esc(record['pipeline'])}</h1>",
        f"<p>status <b>{esc(record['status'])}</b>, runner {esc(record.get('runner'))}, "
        f"runtime {esc(record.get('runtime'))}, {record.get('seconds', 0):.1f} s wall, "
        f"{record.get('cpu_seconds', 0):.1f} CPU s, started {esc(record.get('started_at'))}; "
        f"overrides <code>{esc(json.dumps(record.get('overrides', {})))}</code></p>",
    ]
    if record.get("error"):
        parts.append(f"<p class='fail'>{esc(record['error'])}</p>")
    if record.get("skipped"):
        parts.append(f"<p>nothing ran: {esc(record['skipped'])}</p>")
    parts += [
        "<h2>Pipeline</h2>",
        img(dag_figure(steps, edges({"steps": steps})), "DAG"),
        steps_table(record),
    ]
    for step in record["steps"]:
        uri = step.get("uri", "")
        if step.get("status") not in ("executed", "cached") or not uri or not is_committed(uri):
            continue
        section = get_spec(step["component"]).render_report(open_artifact(uri), step)
        if section:
            parts.append(section)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>tfpipe "
        f"{esc(record['run_id'])}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + "<script>document.body.dataset.plotsLoaded = Array.from(document.images)"
        ".filter(i => i.complete && i.naturalWidth > 0).length;</script></body></html>"
    )
    path = run.report_path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
