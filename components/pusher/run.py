"""Pusher entry point: push when blessed, otherwise record why not and push nothing."""

from __future__ import annotations

import json
import os
from typing import Any

from components.core.spec import Context
from components.pusher.params import PusherParams
from components.pusher.versions import publish


def run(ctx: Context) -> dict[str, Any]:
    p: PusherParams = ctx.params
    model, evaluation = ctx.inputs["model"], ctx.inputs["evaluation"]
    with open(evaluation.path("evaluation.json"), encoding="utf-8") as f:
        verdict = json.load(f)
    if not verdict["blessed"]:
        failed = [
            f"{c['metric']}={c['value']} (bounds {c['lower']}..{c['upper']})"
            for c in verdict["thresholds"]
            if not c["passed"]
        ]
        reason = "model not blessed: " + "; ".join(failed)
        ctx.log.warning("pusher: refusing to push %s: %s", model.uri, reason)
        ctx.progress(f"NOT pushed: {reason}")
        return {"pushed": False, "reason": reason}
    model_dir = os.path.join(os.path.abspath(p.serving_base), p.model_name)
    version, target = publish(model.path("serving_model"), model_dir)
    ctx.progress(f"pushed version {version} to {target}")
    return {"pushed": True, "version": version, "destination": target, "model": model.uri}
