"""Pusher entry point: refuse an unblessed model, validate the export in a fresh process, then
publish it with its model card as a new version and prune old versions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

from components.core.artifacts import read_artifact
from components.core.errors import TfpipeError
from components.core.runtime import child_environment
from components.core.serving import latest_version, served_fingerprint
from components.core.spec import Context
from components.core.tf_features import split_files
from components.pusher.model_card import build_card, write_card
from components.pusher.params import PusherParams
from components.pusher.versions import prune, publish


def refusal_reason(verdict: dict[str, Any]) -> str:
    failed = [
        f"{c['metric']}={c['value']:.4g} outside [{c['lower']}, {c['upper']}]"
        for c in verdict["thresholds"]
        if not c["passed"]
    ]
    failed += [
        f"{c['metric']} {c['candidate']:.4g} is {c['worsening']:.4g} worse than the "
        f"baseline's {c['baseline']:.4g} (allowed {c['max_worsening']})"
        for c in verdict.get("baseline_checks", [])
        if not c["passed"]
    ]
    return "model not blessed: " + "; ".join(failed)


def validate_in_fresh_process(export_dir: str, examples_file: str, count: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "components.pusher.validate", export_dir, examples_file, str(count)],
        capture_output=True,
        text=True,
        env=child_environment(),
        timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"ok": False, "problems": [proc.stderr[-2000:]]}
    if proc.returncode != 0 or not result.get("ok"):
        raise TfpipeError(
            f"pusher: the exported model failed validation in a fresh process: "
            f"{result.get('problems')}; nothing was pushed"
        )
    return result


def run(ctx: Context) -> dict[str, Any]:
    p: PusherParams = ctx.params
    model, evaluation = ctx.inputs["model"], ctx.inputs["evaluation"]
    with open(evaluation.path("evaluation.json"), encoding="utf-8") as f:
        verdict = json.load(f)
    if not verdict["blessed"]:
        reason = refusal_reason(verdict)
        ctx.log.warning("pusher: refusing to push %s: %s", model.uri, reason)
        ctx.progress(f"NOT pushed: {reason}")
        return {"pushed": False, "reason": reason}
    model_dir = os.path.join(os.path.abspath(p.serving_base), p.model_name)
    newest = latest_version(model_dir)
    if newest and served_fingerprint(newest) == model.fingerprint:
        ctx.progress(f"already serving this model as {newest}; nothing to push")
        return {
            "pushed": False,
            "reason": f"already serving this model as {newest}",
            "destination": newest,
        }
    examples = read_artifact(evaluation.manifest["inputs"]["examples"]["uri"])
    sample = split_files(examples, verdict.get("split", "eval"))[0]
    ctx.progress(
        f"validating the export on {p.validation_examples} raw examples in a fresh process"
    )
    check = validate_in_fresh_process(model.path("serving_model"), sample, p.validation_examples)
    card = build_card(model, evaluation, ctx.run_id)
    version, target = publish(
        model.path("serving_model"), model_dir, prepare=lambda path: write_card(path, card)
    )
    # The artifact keeps its own copy of the card (the served copy may be pruned later).
    write_card(ctx.output_dir, {**card, "version": version, "destination": target})
    shutil.copy(
        os.path.join(ctx.output_dir, "assets.extra", "model_card.md"),
        os.path.join(ctx.output_dir, "model_card.md"),
    )
    pruned = prune(model_dir, p.keep_last)
    ctx.progress(f"pushed version {version} to {target}" + (f"; pruned {pruned}" if pruned else ""))
    return {
        "pushed": True,
        "version": version,
        "destination": target,
        "model": model.uri,
        "validated_rows": check["rows"],
        "pruned": pruned,
    }
