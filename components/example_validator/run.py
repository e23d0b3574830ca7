"""ExampleValidator entry point: anomalies from the Examples' statistics and the contract they were
checked against, drift against the served model's training data, and a halt when an anomaly
that is not allowed was found."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import (
    ArtifactNotCommitted,
    Examples,
    ExampleValidation,
    open_artifact,
)
from tfpipe.components.core.contract import parse_contract
from tfpipe.components.core.schema import Schema
from tfpipe.components.core.spec import Context
from tfpipe.components.example_validator.checks import allowed, anomalies, drift
from tfpipe.components.example_validator.params import ExampleValidatorParams


def run(ctx: Context) -> dict[str, Any]:
    p: ExampleValidatorParams = ctx.params
    examples: Examples = ctx.inputs["examples"]
    out: ExampleValidation = ctx.output
    statistics = examples.statistics()
    text = examples.contract_text()
    contract = parse_contract(text, f"the contract of {examples.uri}") if text else Schema()
    found = anomalies(statistics, contract)
    for anomaly in found:
        anomaly["allowed"] = allowed(anomaly, p.allow)
    blocking = [a for a in found if not a["allowed"]]

    distances: dict[str, float] = {}
    baseline_stats: dict[str, Any] | None = None
    baseline_uri = ctx.external.get("baseline_examples")
    if baseline_uri:
        try:
            baseline = open_artifact(baseline_uri, Examples).statistics()
            split = main_split(statistics)
            baseline_stats = baseline.get("splits", {}).get(split, baseline)["columns"]
            distances = drift(statistics["splits"][split]["columns"], baseline_stats)
        except ArtifactNotCommitted:
            ctx.progress(f"no drift check: the served model's data {baseline_uri} is gone")
    drops = drop_drift(examples, baseline_stats)
    drifted = sorted(
        n for n, d in distances.items() if p.drift_threshold is not None and d > p.drift_threshold
    )
    out.write_report(
        {
            "anomalies": found,
            "contract": bool(text),
            "drift": {
                "against": baseline_uri,
                "served_version": ctx.external.get("served_version"),
                "threshold": p.drift_threshold,
                "columns": distances,
                "drops": drops,
            },
        }
    )
    reasons = [
        f"{a['column']}: {a['kind']} (expected {a['expected']}, found {a['found']}"
        + (f", {a['rows_affected']} rows" if a["rows_affected"] is not None else "")
        + ")"
        for a in blocking
    ] + [f"{n}: drift {distances[n]:.3f} > {p.drift_threshold}" for n in drifted]
    summary: dict[str, Any] = {
        "contract": bool(text),
        "anomalies": len(found),
        "blocking": len(blocking),
        "kinds": sorted({a["kind"] for a in found}),
        "drifted_columns": drifted,
        "max_drift": max(distances.values(), default=None),
    }
    if drops:
        summary["new_drops_max_drift"] = {
            source: max([*d["window"].values(), *d.get("served", {}).values()], default=None)
            for source, d in drops.items()
        }
    if not text:
        # Nothing to check against: say so, and where a proposal to start from was written.
        summary["inferred_contract"] = examples.inferred_contract_path
    if reasons:
        ctx.progress("anomalies stop the run: " + "; ".join(reasons))
        summary["halt"] = (
            "the data breaks its contract: "
            + "; ".join(reasons)
            + ". Fix the data, update the contract (schema_file), or allow these anomalies with "
            "example_validator.allow"
        )
    return summary


def main_split(statistics: dict[str, Any]) -> str:
    return "train" if "train" in statistics["splits"] else next(iter(statistics["splits"]))


def drop_drift(
    examples: Examples, served: dict[str, Any] | None
) -> dict[str, dict[str, dict[str, float]]]:
    """Each drop new in this window against the window's other drops and, when a model is
    served, against its training data: ``{source: {"window": {column: distance}, "served":
    …}}``. Reported, not a reason to stop: the window's own drift is."""
    out = {}
    for source, figures in examples.new_drops_statistics().items():
        split = main_split({"splits": figures["drop"]})
        if split not in figures["rest"]:
            continue
        now = figures["drop"][split]["columns"]
        out[source] = {"window": drift(now, figures["rest"][split]["columns"])}
        if served is not None:
            out[source]["served"] = drift(now, served)
    return out
