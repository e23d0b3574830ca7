"""ExampleGen's report section: rows per split, per-column statistics of each split, and one small
plot per column (histogram of numbers, most frequent values of categories), splits overlaid."""

from __future__ import annotations

import math
from typing import Any

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.presentation import figure_uri, img, pyplot, render, section, table


def columns_figure(splits: dict[str, Any]) -> str:
    plt = pyplot()
    names = list(next(iter(splits.values()))["columns"])
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for split, stats in splits.items():
            column = stats["columns"].get(name, {})
            hist = column.get("histogram")
            if hist and hist.get("counts"):
                total = max(sum(hist["counts"]), 1)
                edges = hist["edges"]
                ax.stairs([c / total for c in hist["counts"]], edges, label=split)
            elif column.get("top"):
                top = column["top"][:8]
                total = max(column["count"], 1)
                ax.barh(
                    [str(v)[:14] for v, _ in top][::-1],
                    [c / total for _, c in top][::-1],
                    alpha=0.5,
                    label=split,
                )
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return figure_uri(fig)


def report(artifact: Examples, step: dict[str, Any]) -> Any:
    summary = artifact.summary
    parts = [table(("split", "rows"), list(summary.get("splits", {}).items()))]
    drops = artifact.drops()
    if len(drops) > 1:
        parts += [
            render(
                "<h3>Window: {{ n }} drops, {{ k }} reused from earlier runs</h3>",
                n=len(drops),
                k=sum(d["reused"] for d in drops),
            ),
            table(
                ("drop", "rows", "splits", ""),
                [
                    (
                        d["source"],
                        d["rows"],
                        " ".join(d["splits"]),
                        "reused" if d["reused"] else "converted now",
                    )
                    for d in drops
                ],
            ),
        ]
    if summary.get("rejected_rows"):
        parts.append(
            render(
                '<p class="fail">{{ n }} malformed rows were set aside in <code>{{ path }}</code>.'
                "</p>",
                n=summary["rejected_rows"],
                path=artifact.rejected_path,
            )
        )
    stats = artifact.statistics()
    if stats:
        rows = []
        for split, split_stats in stats["splits"].items():
            for name, c in split_stats["columns"].items():
                rows.append(
                    (
                        split,
                        name,
                        c["type"],
                        c["count"],
                        c["missing"],
                        c.get("min"),
                        c.get("max"),
                        c.get("mean"),
                        c.get("std"),
                        c.get("distinct"),
                        ", ".join(str(v) for v, _ in c.get("top", [])[:3]),
                    )
                )
        parts += [
            render("<h3>Columns</h3>"),
            table(
                (
                    "split",
                    "column",
                    "type",
                    "count",
                    "missing",
                    "min",
                    "max",
                    "mean",
                    "std",
                    "distinct",
                    "top values",
                ),
                rows,
            ),
            img(columns_figure(stats["splits"]), "column distributions"),
        ]
    parts.append(
        render(
            "<p>Proposed contract for this data: <code>{{ path }}</code> (review it, keep it "
            "beside the pipeline and name it as schema_file).</p>",
            path=artifact.inferred_contract_path,
        )
    )
    return section("Data", *parts)
