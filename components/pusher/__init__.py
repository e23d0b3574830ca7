"""Pusher: publishes a blessed model as a new version of a TF Serving directory, atomically, only
over the version it was evaluated against."""

from typing import Any

from tfpipe.components.artifacts import PushedModel, ServingDirectory
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.pusher.params import PusherParams


def summary_line(summary: dict[str, Any]) -> str:
    """What this run's Pusher did."""
    if summary.get("pushed"):
        return f"pushed version {summary['version']} → {summary['destination']}"
    if summary.get("version") is not None:  # this very model is the newest version already
        return f"already serving version {summary['version']} → {summary['destination']}"
    return f"refused: {summary.get('reason')}"


def cached_summary_line(summary: dict[str, Any]) -> str:
    """A Pusher result reused from an earlier run: this run pushed nothing. The result is reused
    only while the serving directory is as that run left it (see the Pusher's resolve hook),
    so a push it made is still the version being served."""
    if summary.get("pushed") or summary.get("version") is not None:
        return (
            f"already serving version {summary['version']} → {summary['destination']} "
            "(nothing new to push)"
        )
    return f"refused (as in an earlier run with the same inputs): {summary.get('reason')}"


def announce(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The pushed-model asset event: only when this run published a new version."""
    if not summary.get("pushed"):
        return None
    return {
        "pushed": True,
        "version": summary.get("version"),
        "destination": summary.get("destination"),
    }


def serving(params: PusherParams) -> ServingDirectory:
    return ServingDirectory.of(params.serving_base, params.model_name)


SPEC = ComponentSpec(
    name="pusher",
    artifact_type=PushedModel,
    params=PusherParams,
    entry_point="tfpipe.components.pusher.run:run",
    resolve="tfpipe.components.pusher.resolve:resolve",
    inputs=("model", "evaluation"),
    description=__doc__ or "",
    summary_line=summary_line,
    cached_summary_line=cached_summary_line,
    report_section="tfpipe.components.pusher.report:report",
    outlet="pushed_model",
    announce=announce,
    serving=serving,
    needs_tensorflow=False,
    in_run_note=True,
)
