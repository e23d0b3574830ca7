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
BEND = 0.3  # curvature of the arcs that skip steps (they pass above the boxes)
ARC_Y = 0.3  # where those arcs leave and enter the boxes (their top edge)


def _arc(a: int, b: int) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Start, end and curvature of the arrow from step ``a`` to step ``b``."""
    if b - a == 1:
        return (a + 0.4, 0.0), (b - 0.4, 0.0), 0.0
    return (a + 0.4, ARC_Y), (b - 0.4, ARC_Y), BEND


def dag_figure(steps: list[dict[str, Any]], edges: list[tuple[str, str]]) -> str:
    """Steps left to right in run order, coloured by status, labelled with their time. The
    figure is as tall as its highest arc: an arc3 curve is a quadratic Bézier whose control
    point sits rad × the chord's length off the chord (measured on screen, hence the equal
    aspect below), so the curve rises half that."""
    plt = pyplot()
    x = {s["step"]: i for i, s in enumerate(steps)}
    arcs = [_arc(x[up], x[down]) for up, down in edges]
    top = max([ARC_Y] + [start[1] + bend * (end[0] - start[0]) / 2 for start, end, bend in arcs])
    bottom, top = -0.45, top + 0.15
    unit = 2.3  # inches per step, both ways
    fig, ax = plt.subplots(figsize=(unit * (len(steps) + 0.2), unit * (top - bottom)))
    ax.set_aspect("equal")
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
    for start, end, bend in arcs:
        ax.annotate(
            "",
            xy=end,
            xytext=start,
            arrowprops={"arrowstyle": "->", "connectionstyle": f"arc3,rad={-bend}"},
            annotation_clip=False,
        )
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    return figure_uri(fig)
