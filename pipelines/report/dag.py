"""The run's DAG: steps left to right in run order, coloured by status, with their time."""

from __future__ import annotations

from typing import Any

from tfpipe.components.core.presentation import figure_uri, pyplot

STATUS_COLOURS = {
    "executed": "#4caf50",
    "cached": "#42a5f5",
    "failed": "#e53935",
    "not run": "#eeeeee",
    "pending": "#eeeeee",
    "running": "#ffb300",
}


def dag_figure(steps: list[dict[str, Any]], edges: list[tuple[str, str]]) -> str:
    """Steps left to right in run order, coloured by status, labelled with their time."""
    plt = pyplot()
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
    return figure_uri(fig)
