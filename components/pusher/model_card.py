"""The model card pushed next to every model: what data, what parameters, how trained, how good."""

from __future__ import annotations

import json
import os
from typing import Any

from components.core.artifacts import Artifact, read_artifact, utc_now


def build_card(model: Artifact, evaluation: Artifact, run_id: str) -> dict[str, Any]:
    with open(evaluation.path("evaluation.json"), encoding="utf-8") as f:
        verdict = json.load(f)
    transform = read_artifact(model.manifest["inputs"]["transform"]["uri"])
    examples_fp = transform.manifest["inputs"]["examples"]["fingerprint"]
    examples = read_artifact(transform.manifest["inputs"]["examples"]["uri"])
    summary = model.summary
    baseline = verdict.get("baseline")
    return {
        "model_fingerprint": model.fingerprint,
        "run_id": run_id,
        "pushed_at": utc_now(),
        "data": {
            "examples_fingerprint": examples_fp,
            "input": examples.manifest["parameters"].get("input"),
            "rows": examples.summary.get("rows"),
            "splits": examples.summary.get("splits"),
        },
        "training": {
            "backend": summary.get("backend"),
            "converted_from_keras": summary.get("converted"),
            "distribution": summary.get("distribution"),
            "reason": summary.get("reason"),
            "steps": summary.get("steps"),
            "runtime": model.manifest.get("runtime"),
            "parameters": model.manifest.get("parameters"),
        },
        "evaluation": {
            "split": verdict.get("split"),
            "metrics": {k: v for k, v in verdict["metrics"].items() if isinstance(v, (int, float))},
            "thresholds": verdict.get("thresholds"),
            "baseline": baseline.get("model") if baseline else None,
            "baseline_metrics": (
                {k: v for k, v in baseline["overall"].items() if isinstance(v, (int, float))}
                if baseline
                else None
            ),
            "baseline_checks": verdict.get("baseline_checks"),
            # Per-slice counts and metrics: the next evaluation measures data shift against them.
            "slices": verdict.get("slices", {}),
        },
    }


def card_markdown(card: dict[str, Any]) -> str:
    ev, tr, data = card["evaluation"], card["training"], card["data"]
    lines = [
        f"# Model card: {card['model_fingerprint']}",
        f"Pushed {card['pushed_at']} by run `{card['run_id']}`.",
        "## Data",
        f"- input: `{data['input']}` ({data['rows']} rows, splits {data['splits']})",
        f"- examples fingerprint: `{data['examples_fingerprint']}`",
        "## Training",
        f"- backend: {tr['backend']} (converted from Keras: {tr['converted_from_keras']}), "
        f"distribution: {tr['distribution']}, {tr['steps']} steps, runtime {tr['runtime']}",
        f"- why: {tr['reason']}",
        "## Evaluation",
        "| metric | value | baseline |",
        "|---|---|---|",
    ]
    base = ev.get("baseline_metrics") or {}
    for name, value in ev["metrics"].items():
        lines.append(f"| {name} | {value:.4g} | {base.get(name, '—')} |")
    return "\n".join(lines) + "\n"


def write_card(directory: str, card: dict[str, Any]) -> None:
    extra = os.path.join(directory, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, "model_card.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, default=str)
    with open(os.path.join(extra, "model_card.md"), "w", encoding="utf-8") as f:
        f.write(card_markdown(card))
