"""Evaluator entry point: score the candidate (and the currently pushed baseline) on the same raw
eval examples through ``serving_default``, check thresholds and the change against the baseline,
and bless the candidate only if every gate passes."""

from __future__ import annotations

import contextlib
from typing import Any

from tfpipe.components.artifacts import Examples, Model, ModelEvaluation, ServingDirectory
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.spec import Context
from tfpipe.components.evaluator.baseline_cache import BaselineCache
from tfpipe.components.evaluator.metrics import check_thresholds, compare_with_baseline
from tfpipe.components.evaluator.params import EvaluatorParams
from tfpipe.components.evaluator.scoring import score


def comparability(
    candidate: dict[str, Any], baseline: dict[str, Any] | None, by_class_id: bool
) -> str:
    """Why the baseline cannot be compared with the candidate ('' when it can)."""
    if baseline is None:
        return "the baseline has no tfpipe model_info (pushed by something else)"
    if candidate["task"] != baseline["task"]:
        return f"it is a {baseline['task']} model, the candidate a {candidate['task']} model"
    # Different class lists are fine for a raw label (each model is scored against its own class
    # names); a transformed label is a class id, which must mean the same class in both.
    if by_class_id and candidate.get("classes") != baseline.get("classes"):
        return (
            f"its classes {baseline.get('classes')} differ from the candidate's "
            f"{candidate.get('classes')}, and the label is a class id"
        )
    return ""


def slice_shift(current: dict[str, Any], card: dict[str, Any] | None) -> dict[str, Any]:
    """Per slice: its share of the data and its metrics now vs. when the baseline was blessed
    (from the baseline's model card), so a changed distribution shows up slice by slice."""
    if not card:
        return {}
    then = card.get("evaluation", {}).get("slices", {})
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
    examples: Examples = ctx.inputs["examples"]
    model: Model = ctx.inputs["model"]
    out: ModelEvaluation = ctx.output
    schema = examples.schema()
    for column in p.slice_by:
        if column not in schema.names:
            raise InputDataError(
                f"evaluator: slice column '{column}' is not a column of the examples "
                f"({schema.names})"
            )
    candidate_info = model.info()
    p.check_metrics(candidate_info["task"], f"model {model.uri}")
    files = examples.split_files(p.split)
    models = {"candidate": model.serving_dir}

    serving: ServingDirectory | None = ServingDirectory.at(p.baseline_model_dir)
    version = ctx.external.get("baseline_version")
    not_comparable = ""
    with contextlib.ExitStack() as stack:
        pinned = None
        if serving is not None and version is not None:
            # A private copy, taken under the serving lock: a prune or rollback meanwhile cannot
            # take the baseline away while it is scored.
            pinned = stack.enter_context(serving.pinned(version))
            not_comparable = comparability(
                candidate_info,
                pinned.info,
                # a transformed label (the model's own, or named like TFX's tips_xf) is a
                # class id
                by_class_id=p.label not in schema.names
                and candidate_info["task"] == "classification",
            )
            if not_comparable:
                ctx.progress(f"baseline version {version} not compared: {not_comparable}")
            else:
                models["baseline"] = pinned.path
        caches = _score_caches(ctx, model, "baseline" in models)
        ctx.progress(
            f"scoring {' and '.join(models)} on '{p.split}' through {p.signature_name}"
            + (f" (baseline: version {version})" if "baseline" in models else "")
        )
        scored = score(
            models,
            files,
            schema,
            p.label,
            p.slice_by,
            batch_size=p.batch_size,
            memory_budget_mb=p.memory_budget_mb,
            threshold=p.threshold,
            max_slice_values=p.max_slice_values,
            transform_dir=model.input("transform").graph_dir,
            signature=p.signature_name,
            prediction_key=p.prediction_key,
            preprocessing_functions=p.preprocessing_function_names,
            caches=caches,
        )
    candidate = scored["candidate"]
    metrics = candidate["overall"]
    if metrics["example_count"] == 0:
        raise InputDataError(
            f"evaluator: split '{p.split}' has no examples with a usable label "
            f"'{candidate['label']}' ({metrics.get('missing_labels', 0)} missing, "
            f"{metrics.get('unknown_labels', 0)} not among the model's classes)"
        )
    baseline = scored.get("baseline")
    if baseline is not None:
        baseline["model"] = serving.version_dir(version) if serving else None
        baseline["version"] = version
        baseline["shift"] = slice_shift(candidate["slices"], pinned.card if pinned else None)
    checks = check_thresholds(metrics, p.thresholds)
    changes = (
        compare_with_baseline(metrics, baseline["overall"], p.change_thresholds) if baseline else []
    )
    blessed = all(c["passed"] for c in checks + changes)
    if blessed and "candidate" in caches:
        # A blessed model may be served next: its scores are the next run's baseline scores.
        caches["candidate"].commit_held()
    out.write_evaluation(
        {
            "split": p.split,
            "label": candidate["label"],
            "metrics": metrics,
            "details": candidate["details"],
            "slices": candidate["slices"],
            "thresholds": checks,
            "baseline": baseline,
            "baseline_checks": changes,
            "baseline_not_compared": not_comparable or None,
            # What was served when this evaluation was made: the Pusher publishes only over it.
            "served_version": ctx.external.get("latest_version"),
            "batch_plan": candidate["batch_plan"],
            "blessed": blessed,
        }
    )
    headline = {
        k: round(v, 6) if isinstance(v, float) else v
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    seconds = candidate["scoring_seconds"]
    return {
        "blessed": blessed,
        "rows_per_second": round(metrics["example_count"] / seconds) if seconds else None,
        "batch_size": candidate["batch_plan"]["batch_size"],
        "metrics": headline,
        "failed_thresholds": [c for c in checks if not c["passed"]],
        "failed_baseline_checks": [c for c in changes if not c["passed"]],
        "baseline_version": version if baseline else None,
        # Baseline rows scored by this run and read back from earlier runs' scores of the same
        # shards (see baseline_cache): a shifted window scores only its new shards.
        **(
            {k: v for k, v in baseline["cache"].items() if k != "seconds"}
            if baseline and "cache" in baseline
            else {}
        ),
    }


def _score_caches(ctx: Context, model: Model, with_baseline: bool) -> dict[str, BaselineCache]:
    """Where models' scores per eval shard are kept (see baseline_cache), keyed by what
    identifies the model's content and what of it is scored (signature, output):

    - the baseline's: its identity read when the step was resolved (the model fingerprint it
      was pushed from, else its graph's digest; the version may be rolled back or pruned while
      its pinned copy is scored), so a re-push of the same model reuses them too;
    - the candidate's (in a pipeline that compares with a served model): its fingerprint, which
      its model card carries once pushed, so tomorrow's evaluation against it reuses the scores
      of every shard it was scored on today (kept only if it is blessed)."""
    p: EvaluatorParams = ctx.params

    def cache(identity: str) -> BaselineCache:
        key = {"model": identity, "signature": p.signature_name, "prediction_key": p.prediction_key}
        return BaselineCache(ctx.output.uri, key, ctx.run_id)

    caches = {}
    if p.baseline_model_dir:
        caches["candidate"] = cache(model.fingerprint)
    served = ctx.external.get("baseline_identity")
    if with_baseline and served and served != "missing":
        caches["baseline"] = cache(served)
    return caches
