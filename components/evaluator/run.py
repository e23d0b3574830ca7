"""Evaluator entry point: score the candidate (and the currently pushed baseline) on the same raw
eval examples through ``serving_default``, check thresholds and the change against the baseline,
and bless the candidate only if every gate passes."""

from __future__ import annotations

import json
import os
from typing import Any

from components.core.errors import InputDataError
from components.core.spec import Context
from components.core.tf_features import example_schema, split_files
from components.evaluator.metrics import check_thresholds, compare_with_baseline
from components.evaluator.params import EvaluatorParams
from components.evaluator.scoring import model_info, score


def comparability(candidate_dir: str, baseline_dir: str) -> str:
    """Why the baseline cannot be compared with the candidate ('' when it can)."""
    try:
        new, old = model_info(candidate_dir), model_info(baseline_dir)
    except FileNotFoundError:
        return "the baseline has no tfpipe model_info (pushed by something else)"
    if new["task"] != old["task"]:
        return f"it is a {old['task']} model, the candidate a {new['task']} model"
    # Different class lists are fine: each model is scored against its own classes by name.
    return ""


def slice_shift(current: dict[str, Any], baseline_dir: str) -> dict[str, Any]:
    """Per slice: its share of the data and its metrics now vs. when the baseline was blessed
    (from the baseline's model card), so a changed distribution shows up slice by slice."""
    card_path = os.path.join(baseline_dir, "assets.extra", "model_card.json")
    if not os.path.exists(card_path):
        return {}
    with open(card_path, encoding="utf-8") as f:
        then = json.load(f).get("evaluation", {}).get("slices", {})
    shift: dict[str, Any] = {}
    for feature, values in current.items():
        before = then.get(feature, {})
        total_now = sum(v["example_count"] for v in values.values()) or 1
        total_then = sum(v["example_count"] for v in before.values()) or 1
        rows = {}
        for value in sorted(set(values) | set(before)):
            now, old = values.get(value, {}), before.get(value, {})
            rows[value] = {
                "share_now": now.get("example_count", 0) / total_now,
                "share_then": old.get("example_count", 0) / total_then,
                "metrics_now": now,
                "metrics_then": old,
            }
        shift[feature] = rows
    return shift


def run(ctx: Context) -> dict[str, Any]:
    p: EvaluatorParams = ctx.params
    examples, model = ctx.inputs["examples"], ctx.inputs["model"]
    schema = example_schema(examples)
    for column in [p.label, *p.slice_by]:
        if column not in schema.names:
            raise InputDataError(
                f"evaluator: '{column}' is not a column of the examples ({schema.names})"
            )
    files = split_files(examples, p.split)
    ctx.progress(f"scoring the candidate on '{p.split}' through serving_default")
    candidate = score(model.path("serving_model"), files, schema, p.label, p.slice_by, p.batch_size)
    metrics = candidate["overall"]
    if metrics["example_count"] == 0:
        raise InputDataError(f"evaluator: split '{p.split}' has no examples with a label")

    baseline_dir = p.baseline(model.fingerprint)
    baseline = None
    not_comparable = baseline_dir and comparability(model.path("serving_model"), baseline_dir)
    if not_comparable:
        ctx.progress(f"baseline {baseline_dir} not compared: {not_comparable}")
        baseline_dir = None
    if baseline_dir:
        ctx.progress(f"scoring the baseline {baseline_dir} on the same examples")
        baseline = score(baseline_dir, files, schema, p.label, p.slice_by, p.batch_size)
        baseline["model"] = baseline_dir
        baseline["shift"] = slice_shift(candidate["slices"], baseline_dir)
    checks = check_thresholds(metrics, p.thresholds)
    changes = (
        compare_with_baseline(metrics, baseline["overall"], p.change_thresholds)
        if (baseline)
        else []
    )
    blessed = all(c["passed"] for c in checks + changes)
    evaluation = {
        "split": p.split,
        "metrics": metrics,
        "slices": candidate["slices"],
        "thresholds": checks,
        "baseline": baseline,
        "baseline_checks": changes,
        "baseline_not_compared": not_comparable or None,
        "blessed": blessed,
    }
    with open(os.path.join(ctx.output_dir, "evaluation.json"), "w", encoding="utf-8") as f:
        json.dump(evaluation, f, indent=2)
    if blessed:
        open(os.path.join(ctx.output_dir, "BLESSED"), "w").close()
    headline = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    return {
        "blessed": blessed,
        "metrics": headline,
        "failed_thresholds": [c for c in checks if not c["passed"]],
        "failed_baseline_checks": [c for c in changes if not c["passed"]],
        "baseline": baseline_dir,
    }
