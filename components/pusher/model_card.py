"""The model card pushed next to every model: what data, what parameters, how trained, how good."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import Examples, Model, ModelEvaluation, utc_now


def build_card(model: Model, evaluation: ModelEvaluation, run_id: str) -> dict[str, Any]:
    verdict = evaluation.evaluation()
    transform = model.input("transform")
    examples = transform.input("examples")
    assert isinstance(examples, Examples)
    summary = model.summary
    baseline = verdict.get("baseline")
    return {
        "model_fingerprint": model.fingerprint,
        "run_id": run_id,
        "pushed_at": utc_now(),
        "data": {
            "examples_fingerprint": examples.fingerprint,
            "examples_uri": examples.uri,
            "input": examples.parameters.get("input"),
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
            "parameters": model.parameters,
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
