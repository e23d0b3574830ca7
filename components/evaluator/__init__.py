"""Evaluator: metrics on a held-out split, scored through the serving signature; a blessing."""

from typing import Any

from tfpipe.components.artifacts import ModelEvaluation
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.evaluator.params import EvaluatorParams


def summary_line(summary: dict[str, Any]) -> str:
    metrics = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in summary.get("metrics", {}).items()
    )
    line = f"{'BLESSED' if summary.get('blessed') else 'NOT blessed'} {metrics}"
    if summary.get("baseline_rows_reused"):
        line += f"; baseline scores reused for {summary['baseline_rows_reused']} rows"
    return line


SPEC = ComponentSpec(
    name="evaluator",
    artifact_type=ModelEvaluation,
    params=EvaluatorParams,
    entry_point="tfpipe.components.evaluator.run:run",
    resolve="tfpipe.components.evaluator.resolve:resolve",
    inputs=("examples", "model"),
    description=__doc__ or "",
    summary_line=summary_line,
    report_section="tfpipe.components.evaluator.report:report",
    in_run_note=True,
)
