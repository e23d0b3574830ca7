"""The Bulk Inferrer's report section: what was scored with which model, the batch size the
memory budget gave, and the files written."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.core.batching import BatchPlan
from tfpipe.components.core.presentation import render, section, table

DETAILS = """<p>{{ line }}</p><p>Model: {{ model }}.</p>
<p class='batch-plan'>Scored in batches of {{ plan }}.</p><p>Columns: {{ columns }}</p>"""


def report(artifact: InferenceResult, step: dict[str, Any]) -> Markup:
    from tfpipe.components.bulk_inferrer import summary_line

    info = artifact.info()
    files = [(f["path"], f["rows"]) for f in info["files"]]
    details = render(
        DETAILS,
        line=summary_line(artifact.summary),
        model=info["model"],
        plan=BatchPlan(**info["batch_plan"]).describe(),
        columns=", ".join(info["columns"]),
    )
    return section("Batch scoring", details, table(("file", "rows"), files[:50]))
