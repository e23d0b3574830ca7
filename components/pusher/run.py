"""Pusher entry point: refuse an unblessed model; otherwise copy the export in as a new version
with its model card, validate the copy (load it, score raw examples) before it becomes visible,
publish only over the version it was evaluated against, and prune old versions."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import (
    Examples,
    Model,
    ModelEvaluation,
    PushedModel,
    ServingDirectory,
    StaleBaseline,
    write_model_card,
)
from tfpipe.components.core.spec import Context
from tfpipe.components.pusher.model_card import build_card, card_markdown
from tfpipe.components.pusher.params import PusherParams
from tfpipe.components.pusher.validate import same_files, validate_saved_model


def refusal_reason(verdict: dict[str, Any]) -> str:
    failed = [
        f"{c['metric']}={_num(c['value'])} outside [{c['lower']}, {c['upper']}]"
        for c in verdict["thresholds"]
        if not c["passed"]
    ]
    failed += [
        f"{c['metric']} {_num(c['candidate'])} is {_num(c['worsening'])} worse than the "
        f"baseline's {_num(c['baseline'])} (allowed {c['max_worsening']})"
        for c in verdict.get("baseline_checks", [])
        if not c["passed"]
    ]
    return "model not blessed: " + "; ".join(failed)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


def run(ctx: Context) -> dict[str, Any]:
    p: PusherParams = ctx.params
    model: Model = ctx.inputs["model"]
    evaluation: ModelEvaluation = ctx.inputs["evaluation"]
    out: PushedModel = ctx.output
    verdict = evaluation.evaluation()
    if not verdict["blessed"]:
        return _not_pushed(ctx, refusal_reason(verdict))
    serving = ServingDirectory.of(p.serving_base, p.model_name)
    latest = serving.latest()
    if latest is not None and serving.identity(latest) == model.fingerprint:
        ctx.progress(f"already serving this model as version {latest}; nothing to push")
        return {
            "pushed": False,
            "reason": f"already serving this model as version {latest}",
            "version": latest,
            "destination": serving.version_dir(latest),
        }
    rolled_back = [
        v for v in serving.rolled_back() if serving.identity_rolled_back(v) == model.fingerprint
    ]
    if rolled_back:
        return _not_pushed(
            ctx,
            f"this model was pushed as version {rolled_back[-1]} and rolled back; it is not pushed "
            "again (train a different model, or move it back from .rolled_back by hand)",
        )
    examples = evaluation.input("examples")
    assert isinstance(examples, Examples)
    sample = examples.split_files(verdict.get("split", "eval"))[0]
    card = build_card(model, evaluation, ctx.run_id)
    checked: dict[str, Any] = {}

    def prepare(copy: str) -> None:
        if p.validation == "load":
            ctx.progress(f"validating the copy on {p.validation_examples} raw examples")
            checked.update(validate_saved_model(copy, sample, p.validation_examples))
        else:
            checked.update(same_files(model.serving_dir, copy))
        write_model_card(copy, card, card_markdown(card))

    try:
        version = serving.publish(
            model.serving_dir, expected_latest=verdict.get("served_version"), prepare=prepare
        )
    except StaleBaseline as stale:
        return _not_pushed(ctx, str(stale))
    target = serving.version_dir(version)
    out.write_card({**card, "version": version, "destination": target}, card_markdown(card))
    pruned = serving.prune(p.keep_last)
    ctx.progress(f"pushed version {version} to {target}" + (f"; pruned {pruned}" if pruned else ""))
    return {
        "pushed": True,
        "version": version,
        "destination": target,
        "model": model.uri,
        "validation": p.validation,
        "validated": checked,
        "pruned": pruned,
    }


def _not_pushed(ctx: Context, reason: str) -> dict[str, Any]:
    ctx.log.warning("pusher: not pushing: %s", reason)
    ctx.progress(f"NOT pushed: {reason}")
    return {"pushed": False, "reason": reason}
