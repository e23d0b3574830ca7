"""The Bulk Inferrer's report section: what was scored with which model, the batch size the
memory budget gave, and the files written."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.core.batching import BatchPlan
from tfpipe.components.core.presentation import render, section, table


def report(artifact: InferenceResult, step: dict[str, Any]) -> Markup:
    from tfpipe.components.bulk_inferrer import summary_line

    info = artifact.info()
    plan = BatchPlan(**info["batch_plan"])
    files = [(f["path"], f["rows"]) for f in info["files"]]
    return section(
        "Batch scoring",
        render(
            "<p>{{ summary }}</p><p>Model: {{ model }}.</p>"
            "<p class='batch-plan'>Scored in batches of {{ plan }}.</p>"
            "<p>Columns: {{ columns }}</p>",
            summary=summary_line(artifact.summary),
            model=info["model"],
            plan=plan.describe(),
            columns=", ".join(info["columns"]),
        ),
        table(("file", "rows"), files[:50]),
    )
