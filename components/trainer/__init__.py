"""Trainer: the user's model trained on transformed examples, exported with the transform graph."""

from typing import Any

from tfpipe.components.artifacts import Model
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.trainer.params import TrainerParams


def summary_line(summary: dict[str, Any]) -> str:
    final = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in summary.get("final", {}).items()
    )
    eps = summary.get("examples_per_second") or 0
    return (
        f"{summary.get('backend')}/{summary.get('distribution')} {summary.get('steps')} steps, "
        f"{eps:.4g} ex/s {final}{warm_start_note(summary.get('warm_start'))}"
    )


def warm_start_note(warm: dict[str, Any] | None) -> str:
    """``; warm start from served version 3`` or ``; cold start (reason)`` when one was asked."""
    if not warm or warm.get("requested") != "served":
        return ""
    if warm.get("used"):
        return f"; warm start from served version {warm.get('version')}"
    return f"; cold start ({warm.get('reason')})"


SPEC = ComponentSpec(
    name="trainer",
    artifact_type=Model,
    params=TrainerParams,
    entry_point="tfpipe.components.trainer.run:run",
    resolve="tfpipe.components.trainer.resolve:resolve",
    inputs=("transform",),
    description=__doc__ or "",
    summary_line=summary_line,
    report_section="tfpipe.components.trainer.report:report",
    trains_on_cluster=True,
)
