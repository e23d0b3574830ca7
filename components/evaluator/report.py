"""The evaluator's report section: the verdict and why, metrics against the baseline, per-slice
metrics, data shift since the served model was evaluated, confusion matrix and calibration."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ModelEvaluation
from tfpipe.components.core.batching import BatchPlan
from tfpipe.components.core.presentation import (
    figure_uri,
    fmt,
    img,
    pyplot,
    render,
    section,
    table,
)

VERDICT = """{% if blessed %}<p class="pass">BLESSED: every gate passed.</p>
{% else %}<p class="fail">NOT BLESSED: the failing gates below kept it from being pushed.</p>
{% endif %}{{ gates }}"""
PASS = """{% if passed %}<span class="pass">pass</span>{% else %}<span class="fail">FAIL</span>\
{% endif %}"""


def verdict_html(ev: dict[str, Any]) -> Any:
    rows = []
    for c in ev["thresholds"]:
        rows.append(
            (
                c["metric"],
                c["value"],
                f"[{fmt(c['lower'])}, {fmt(c['upper'])}]",
                render(PASS, passed=c["passed"]),
            )
        )
    for c in ev.get("baseline_checks", []):
        rows.append(
            (
                f"{c['metric']} vs baseline",
                f"{fmt(c['candidate'])} (baseline {fmt(c['baseline'])})",
                f"at most {fmt(c['max_worsening'])} worse",
                render(PASS, passed=c["passed"]),
            )
        )
    gates = table(("gate", "value", "allowed", ""), rows)
    return render(VERDICT, blessed=ev["blessed"], gates=gates)


def metrics_table(ev: dict[str, Any]) -> Any:
    base = (ev.get("baseline") or {}).get("overall", {})
    rows = [
        (k, v, base.get(k))
        for k, v in ev["metrics"].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    return table(("metric", "candidate", "baseline"), rows)


def shift_table(shift: dict[str, Any], metric: str) -> Any:
    rows, classes = [], []
    for feature, values in shift.items():
        for value, row in values.items():
            moved = abs(row["share_now"] - row["share_then"])
            classes.append("fail" if moved >= 0.10 else "")
            rows.append(
                (
                    f"{feature}={value}",
                    f"{row['share_then']:.1%}",
                    f"{row['share_now']:.1%}",
                    row["metrics_then"].get(metric),
                    row["metrics_now"].get(metric),
                )
            )
    header = ("slice", "share then", "share now", f"{metric} then", f"{metric} now")
    return render(
        "<h3>Data shift since the pushed model was evaluated</h3>{{ table }}"
        "<p>Rows in red moved by 10 points or more.</p>",
        table=table(header, rows, row_class=classes),
    )


def slices_figure(
    feature: str,
    candidate: dict[str, dict[str, float]],
    baseline: dict[str, dict[str, float]] | None,
    metric: str,
) -> str:
    plt = pyplot()
    values = sorted(set(candidate) | set(baseline or {}))
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(9, 3.0))
    width = 0.38
    xs = range(len(values))
    ax.bar(
        [i - width / 2 for i in xs],
        [candidate.get(v, {}).get(metric) or 0 for v in values],
        width,
        label="candidate",
    )
    if baseline:
        ax.bar(
            [i + width / 2 for i in xs],
            [baseline.get(v, {}).get(metric) or 0 for v in values],
            width,
            label="baseline (pushed)",
        )
    ax.set_xticks(list(xs), values, rotation=20)
    ax.set_title(f"{metric} by {feature}")
    ax.legend(fontsize=8)
    ax_n.bar(
        list(xs), [candidate.get(v, {}).get("example_count", 0) for v in values], color="#90a4ae"
    )
    ax_n.set_xticks(list(xs), values, rotation=20)
    ax_n.set_title(f"examples by {feature} (this run's data)")
    return figure_uri(fig)


def confusion_figure(matrix: dict[str, Any]) -> str:
    plt = pyplot()
    labels, counts = matrix["labels"], matrix["counts"]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    image = ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    top = max(map(max, counts)) if counts else 0
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > top / 2 else "k")
    fig.colorbar(image, ax=ax)
    ax.set_title("confusion matrix")
    return figure_uri(fig)


def calibration_figure(bins: list[dict[str, Any]], xlabel: str, ylabel: str) -> str:
    plt = pyplot()
    used = [b for b in bins if b["count"]]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    low = min([0.0] + [b["mean_prediction"] for b in used] + [b["mean_label"] for b in used])
    high = max([1.0] + [b["mean_prediction"] for b in used] + [b["mean_label"] for b in used])
    ax.plot([low, high], [low, high], "--", color="grey", label="perfectly calibrated")
    ax.plot(
        [b["mean_prediction"] for b in used], [b["mean_label"] for b in used], "o-", label="model"
    )
    for b in used:
        ax.annotate(
            str(b["count"]),
            (b["mean_prediction"], b["mean_label"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -9),
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("calibration")
    ax.legend(fontsize=8)
    return figure_uri(fig)


def headline_metric(metrics: dict[str, Any]) -> str:
    for name in ("accuracy", "auc", "rmse", "mae"):
        if name in metrics:
            return name
    return "example_count"


def report(artifact: ModelEvaluation, step: dict[str, Any]) -> Any:
    ev = artifact.evaluation()
    parts = [verdict_html(ev), metrics_table(ev)]
    if ev.get("baseline_not_compared"):
        parts.append(
            render("<p>Baseline not compared: {{ why }}</p>", why=ev["baseline_not_compared"])
        )
    kept = (ev.get("baseline") or {}).get("cache")
    if kept:
        parts.append(
            render(
                "<p class='baseline-cache'>Baseline: {{ k.baseline_rows_scored }} rows scored, "
                "{{ k.baseline_rows_reused }} read back from earlier scores of the same shards."
                "</p>",
                k=kept,
            )
        )
    if ev.get("batch_plan"):
        plan = BatchPlan(**ev["batch_plan"])
        parts.append(
            render(
                "<p class='batch-plan'>Scored in batches of {{ plan }}.</p>", plan=plan.describe()
            )
        )
    metric = headline_metric(ev["metrics"])
    baseline_slices = (ev.get("baseline") or {}).get("slices", {})
    for feature, values in ev.get("slices", {}).items():
        parts += [
            render("<h3>By {{ feature }}</h3>", feature=feature),
            img(
                slices_figure(feature, values, baseline_slices.get(feature), metric),
                f"slices by {feature}",
            ),
        ]
    shift = (ev.get("baseline") or {}).get("shift") or {}
    if shift:
        parts.append(shift_table(shift, metric))
    details = ev.get("details", {})
    if details.get("confusion_matrix"):
        parts.append(img(confusion_figure(details["confusion_matrix"]), "confusion matrix"))
    calibration = details.get("calibration")
    if calibration and calibration.get("bins"):
        parts.append(
            img(
                calibration_figure(
                    calibration["bins"], calibration["prediction"], calibration["observed"]
                ),
                "calibration",
            )
        )
    return section("Evaluation", *parts)
