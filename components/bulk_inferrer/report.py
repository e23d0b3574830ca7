"""The Bulk Inferrer's report section: what was scored with which model, the batch size the
memory budget gave, and the files written."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.core.batching import BatchPlan
from tfpipe.components.core.presentation import esc, section, table


def report(artifact: InferenceResult, step: dict[str, Any]) -> str:
    from tfpipe.components.bulk_inferrer import summary_line

    info = artifact.info()
    plan = BatchPlan(**info["batch_plan"])
    files = [(f["path"], f["rows"]) for f in info["files"]]
    return section(
        "Batch scoring",
        f"<p>{esc(summary_line(artifact.summary))}</p>",
        f"<p>Model: {esc(info['model'])}.</p>",
        f"<p class='batch-plan'>Scored in batches of {esc(plan.describe())}.</p>",
        f"<p>Columns: {esc(', '.join(info['columns']))}</p>",
        table(("file", "rows"), files[:50]),
    )
