"""Render a run's report: ``<home>/<pipeline>/runs/<run_id>/report.html``, self-contained."""

from __future__ import annotations

import html
import json
import os
from typing import Any

from pipelines.report import plots
from pipelines.report.data import edges, evaluation, load_manifest, training_curves
from pipelines.summaries import summarize

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ccc;
padding: .25rem .6rem; text-align: left; font-size: .9rem; } .pass { color: #2e7d32; }
.fail { color: #c62828; font-weight: bold; } img { max-width: 100%; } code { font-size: .85rem; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _esc(value)


def _img(uri: str, alt: str) -> str:
    return f'<img class="plot" alt="{_esc(alt)}" src="{uri}">'


def _steps_table(record: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_esc(s['step'])}</td><td>{_esc(s.get('status'))}</td>"
        f"<td>{s.get('seconds', 0):.2f}</td><td>{_esc(s.get('cpu_seconds', ''))}</td>"
        f"<td>{_esc(summarize(s['component'], s.get('summary', {})) or s.get('error', ''))}</td>"
        f"<td><code>{_esc(s.get('fingerprint', ''))}</code></td></tr>"
        for s in record["steps"]
    )
    return (
        "<table><tr><th>step</th><th>status</th><th>seconds</th><th>CPU s</th>"
        f"<th>result</th><th>fingerprint</th></tr>{rows}</table>"
    )


def _verdict(ev: dict[str, Any]) -> str:
    rows = []
    for c in ev["thresholds"]:
        cls = "pass" if c["passed"] else "fail"
        rows.append(
            f"<tr><td>{_esc(c['metric'])}</td><td>{_fmt(c['value'])}</td>"
            f"<td>[{_fmt(c['lower'])}, {_fmt(c['upper'])}]</td>"
            f"<td class='{cls}'>{'pass' if c['passed'] else 'FAIL'}</td></tr>"
        )
    for c in ev.get("baseline_checks", []):
        cls = "pass" if c["passed"] else "fail"
        rows.append(
            f"<tr><td>{_esc(c['metric'])} vs baseline</td><td>{_fmt(c['candidate'])} "
            f"(baseline {_fmt(c['baseline'])})</td><td>at most "
            f"{_fmt(c['max_worsening'])} worse</td>"
            f"<td class='{cls}'>{'pass' if c['passed'] else 'FAIL'}</td></tr>"
        )
    verdict = (
        "<p class='pass'>BLESSED: every gate passed.</p>"
        if ev["blessed"]
        else "<p class='fail'>NOT BLESSED: the failing gates below kept it from being pushed.</p>"
    )
    return (
        verdict
        + "<table><tr><th>gate</th><th>value</th><th>allowed</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _metrics_table(ev: dict[str, Any]) -> str:
    base = (ev.get("baseline") or {}).get("overall", {})
    rows = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_fmt(v)}</td><td>{_fmt(base.get(k, '—'))}</td></tr>"
        for k, v in ev["metrics"].items()
        if isinstance(v, (int, float))
    )
    return f"<table><tr><th>metric</th><th>candidate</th><th>baseline</th></tr>{rows}</table>"


def _shift_table(shift: dict[str, Any], metric: str) -> str:
    rows = []
    for feature, values in shift.items():
        for value, row in values.items():
            moved = abs(row["share_now"] - row["share_then"])
            cls = "fail" if moved >= 0.10 else ""
            rows.append(
                f"<tr class='{cls}'><td>{_esc(feature)}={_esc(value)}</td>"
                f"<td>{row['share_then']:.1%}</td><td>{row['share_now']:.1%}</td>"
                f"<td>{_fmt(row['metrics_then'].get(metric, '—'))}</td>"
                f"<td>{_fmt(row['metrics_now'].get(metric, '—'))}</td></tr>"
            )
    return (
        "<h3>Data shift since the pushed model was evaluated</h3><table><tr><th>slice</th>"
        f"<th>share then</th><th>share now</th><th>{metric} then</th><th>{metric} now</th>"
        "</tr>" + "".join(rows) + "</table><p>Rows in red moved by 10 points or more.</p>"
    )


def render_report(record: dict[str, Any], home: str) -> str:
    """Write the report for ``record`` and return its path."""
    by_step = {s["step"]: s for s in record["steps"]}
    parts = [
        f"<h1>tfpipe run <code>{_esc(record['run_id'])}</code> — {_esc(record['pipeline'])}</h1>",
        f"<p>status <b>{_esc(record['status'])}</b>, runtime {_esc(record['runtime'])}, "
        f"{record.get('seconds', 0):.1f} s, started {_esc(record.get('started_at'))}; "
        f"overrides <code>{_esc(json.dumps(record.get('overrides', {})))}</code></p>",
    ]
    if record.get("error"):
        parts.append(f"<p class='fail'>{_esc(record['error'])}</p>")
    parts += [
        "<h2>Pipeline</h2>",
        _img(plots.dag_figure(record["steps"], edges(record)), "DAG"),
        _steps_table(record),
    ]

    model = next((s for s in record["steps"] if s["component"] == "trainer"), None)
    if model and load_manifest(model.get("uri", "")):
        summary = load_manifest(model["uri"]).get("summary", {})
        parts += [
            "<h2>Training</h2>",
            f"<p>{_esc(summary.get('backend'))} / {_esc(summary.get('distribution'))}: "
            f"{_esc(summary.get('reason'))}</p>",
        ]
        curves = training_curves(model["uri"])
        if curves:
            parts.append(_img(plots.curves_figure(curves), "training curves"))

    ev_step = next((s for s in record["steps"] if s["component"] == "evaluator"), None)
    ev = evaluation(ev_step["uri"]) if ev_step and by_step.get(ev_step["step"]) else None
    if ev:
        parts += ["<h2>Evaluation</h2>", _verdict(ev), _metrics_table(ev)]
        baseline_slices = (ev.get("baseline") or {}).get("slices", {})
        metric = "accuracy" if "accuracy" in ev["metrics"] else "mae"
        for feature, values in ev.get("slices", {}).items():
            parts += [
                f"<h3>By {_esc(feature)}</h3>",
                _img(
                    plots.slices_figure(feature, values, baseline_slices.get(feature), metric),
                    f"slices by {feature}",
                ),
            ]
        shift = (ev.get("baseline") or {}).get("shift") or {}
        if shift:
            parts.append(_shift_table(shift, metric))
        if "confusion_matrix" in ev["metrics"]:
            parts.append(
                _img(plots.confusion_figure(ev["metrics"]["confusion_matrix"]), "confusion matrix")
            )
        if ev["metrics"].get("calibration"):
            parts.append(
                _img(plots.calibration_figure(ev["metrics"]["calibration"]), "calibration")
            )
    pusher = next((s for s in record["steps"] if s["component"] == "pusher"), None)
    if pusher and pusher.get("summary"):
        parts += ["<h2>Push</h2>", f"<p>{_esc(summarize('pusher', pusher['summary']))}</p>"]

    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>tfpipe "
        f"{_esc(record['run_id'])}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + "<script>document.body.dataset.plotsLoaded = Array.from(document.images)"
        ".filter(i => i.complete && i.naturalWidth > 0).length;</script></body></html>"
    )
    directory = os.path.join(home, record["pipeline"], "runs", record["run_id"])
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "report.html")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(path + ".tmp", path)
    return path
