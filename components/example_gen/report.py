"""ExampleGen's report section: rows per split and the rows set aside as malformed."""

from __future__ import annotations

from typing import Any

from components.artifacts import Examples
from components.core.presentation import section, table


def report(artifact: Examples, step: dict[str, Any]) -> str:
    summary = artifact.summary
    rows = [(split, count) for split, count in summary.get("splits", {}).items()]
    parts = [table(("split", "rows"), rows)]
    if summary.get("rejected_rows"):
        parts.append(
            f"<p class='fail'>{summary['rejected_rows']} malformed rows were set aside in "
            f"<code>{artifact.rejected_path}</code>.</p>"
        )
    return section("Data", *parts)
