"""Report figures, drawn with matplotlib (Agg) and embedded as base64 PNGs."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STATUS_COLOURS = {
    "executed": "#4caf50",
    "cached": "#42a5f5",
    "failed": "#e53935",
    "skipped": "#bdbdbd",
    "running": "#ffb300",
}


def to_data_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def dag_figure(steps: list[dict[str, Any]], edges: list[tuple[str, str]]) -> str:
    """Steps left to right in run order, coloured by status, labelled with their time."""
    fig, ax = plt.subplots(figsize=(2.3 * len(steps), 2.2))
    x = {s["step"]: i for i, s in enumerate(steps)}
    for s in steps:
        status = s.get("status", "?")
        ax.add_patch(
            plt.Rectangle(
                (x[s["step"]] - 0.4, -0.3),
                0.8,
                0.6,
                ec="black",
                fc=STATUS_COLOURS.get(status, "white"),
            )
        )
        ax.text(x[s["step"]], 0.08, s["step"], ha="center", va="center", fontsize=9, weight="bold")
        ax.text(
            x[s["step"]],
            -0.14,
            f"{status} {s.get('seconds', 0):.1f}s",
            ha="center",
            va="center",
            fontsize=8,
        )
    for up, down in edges:
        a, b = x[up], x[down]
        bend = 0.0 if b - a == 1 else 0.45
        ax.annotate(
            "",
            xy=(b - 0.4, 0.0 if not bend else 0.3),
            xytext=(a + 0.4, 0.0 if not bend else 0.3),
            arrowprops={"arrowstyle": "->", "connectionstyle": f"arc3,rad={-bend}"},
        )
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(-0.6, 1.0)
    ax.axis("off")
    return to_data_uri(fig)


def curves_figure(curves: dict[str, dict[str, list[tuple[int, float]]]]) -> str:
    names = sorted(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for series, points in sorted(curves[name].items()):
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, marker="o", markersize=3, label=series)
        ax.set_title(name)
        ax.set_xlabel("step / epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return to_data_uri(fig)


def slices_figure(
    feature: str,
    candidate: dict[str, dict[str, float]],
    baseline: dict[str, dict[str, float]] | None,
    metric: str,
) -> str:
    values = sorted(set(candidate) | set(baseline or {}))
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(9, 3.0))
    width = 0.38
    xs = range(len(values))
    ax.bar(
        [i - width / 2 for i in xs],
        [candidate.get(v, {}).get(metric, 0) for v in values],
        width,
        label="candidate",
    )
    if baseline:
        ax.bar(
            [i + width / 2 for i in xs],
            [baseline.get(v, {}).get(metric, 0) for v in values],
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
    return to_data_uri(fig)


def confusion_figure(matrix: dict[str, Any]) -> str:
    labels, counts = matrix["labels"], matrix["counts"]
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    image = ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    for i, row in enumerate(counts):
        for j, n in enumerate(row):
            ax.text(
                j,
                i,
                str(n),
                ha="center",
                va="center",
                color="white" if n > max(map(max, counts)) / 2 else "black",
            )
    fig.colorbar(image, ax=ax)
    ax.set_title("confusion matrix")
    return to_data_uri(fig)


def calibration_figure(bins: list[dict[str, Any]]) -> str:
    used = [b for b in bins if b["count"]]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.plot(
        [b["mean_confidence"] for b in used], [b["accuracy"] for b in used], "o-", label="model"
    )
    for b in used:
        ax.annotate(
            str(b["count"]),
            (b["mean_confidence"], b["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, -9),
        )
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("calibration")
    ax.legend(fontsize=8)
    return to_data_uri(fig)
