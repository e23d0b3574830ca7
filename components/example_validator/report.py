"""The validator's report section: every anomaly (column, expected, found, rows affected, whether
it stops the run) and each column's drift against the served model's training data."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ExampleValidation
from tfpipe.components.core.presentation import figure_uri, img, pyplot, render, section, table


def drift_figure(columns: dict[str, float], threshold: float | None) -> str:
    plt = pyplot()
    names = sorted(columns, key=lambda n: -columns[n])
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(names) + 1), 2.8))
    ax.bar(range(len(names)), [columns[n] for n in names], color="#7e57c2")
    if threshold is not None:
        ax.axhline(threshold, color="#c62828", linestyle="--", label="threshold")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("L-infinity distance")
    ax.set_title("drift vs the served model's training data")
    return figure_uri(fig)


ALLOWED = """{% if allowed %}<span class="pass">allowed</span>\
{% else %}<span class="fail">stops the run</span>{% endif %}"""


def report(artifact: ExampleValidation, step: dict[str, Any]) -> Any:
    data = artifact.report()
    parts = []
    found = data["anomalies"]
    if not data.get("contract"):
        parts.append(render("<p>No contract (schema_file) given: nothing to check against.</p>"))
    elif not found:
        parts.append(render('<p class="pass">The data meets its contract.</p>'))
    else:
        rows = [
            (
                a["column"],
                a["kind"],
                a["expected"],
                a["found"],
                a["rows_affected"],
                render(ALLOWED, allowed=a["allowed"]),
            )
            for a in found
        ]
        parts.append(table(("column", "anomaly", "expected", "found", "rows", ""), rows))
    drift = data.get("drift", {})
    if drift.get("columns"):
        parts.append(
            render(
                "<h3>Drift against version {{ v }}'s training data</h3>",
                v=drift.get("served_version"),
            )
        )
        parts.append(img(drift_figure(drift["columns"], drift.get("threshold")), "drift"))
    if drift.get("drops"):
        parts.append(render("<h3>Drift of the window's new drops</h3>"))
        rows = [
            (
                source,
                column,
                f"{d['window'][column]:.3f}",
                f"{d['served'][column]:.3f}" if column in d.get("served", {}) else "",
            )
            for source, d in drift["drops"].items()
            for column in sorted(d["window"], key=lambda c: -d["window"][c])
        ]
        parts.append(table(("drop", "column", "vs the rest of the window", "vs served"), rows))
    return section("Data validation", *parts)
