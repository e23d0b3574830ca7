"""One-line, human summaries of what each component produced (for the CLI and run listings)."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def summarize(component: str, summary: dict[str, Any]) -> str:
    if not summary:
        return ""
    if component == "example_gen":
        splits = " ".join(f"{k}={v}" for k, v in summary.get("splits", {}).items())
        return f"{summary.get('rows')} rows, {summary.get('columns')} columns → {splits}"
    if component == "transform":
        return f"{len(summary.get('transformed_features', []))} transformed features"
    if component == "trainer":
        final = summary.get("final", {})
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in final.items())
        return (
            f"{summary.get('backend')}/{summary.get('distribution')} "
            f"{summary.get('steps')} steps, {_fmt(summary.get('examples_per_second'))} ex/s "
            f"{shown}"
        )
    if component == "evaluator":
        metrics = " ".join(f"{k}={_fmt(v)}" for k, v in summary.get("metrics", {}).items())
        verdict = "BLESSED" if summary.get("blessed") else "NOT blessed"
        return f"{verdict} {metrics}"
    if component == "pusher":
        if summary.get("pushed"):
            return f"pushed version {summary['version']} → {summary['destination']}"
        return f"NOT pushed: {summary.get('reason')}"
    return ", ".join(f"{k}={_fmt(v)}" for k, v in summary.items() if not isinstance(v, dict))
