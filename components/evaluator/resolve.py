"""What the Evaluator reads from outside the store: the model served now (the baseline)."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ServingDirectory, StaleBaseline
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import External
from tfpipe.components.evaluator.params import EvaluatorParams


def resolve(
    params: EvaluatorParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """The baseline is the version served *now*, frozen for the run: a new push makes a new
    evaluation, and the Pusher publishes only over the version evaluated against."""
    serving = ServingDirectory.at(params.baseline_model_dir)
    if serving is None:
        return External(values={"latest_version": None}, digests={"baseline": "none"})
    if frozen is not None and "latest_version" in frozen:
        latest, baseline = frozen["latest_version"], frozen.get("baseline_version")
        if baseline is not None and baseline not in serving.versions():
            raise StaleBaseline(
                f"baseline version {baseline} of {serving.model_dir} was pruned or rolled "
                "back after this run was planned; re-run to evaluate against the version "
                "served now"
            )
    else:
        latest = serving.latest()
        # The newest version that is not the candidate itself: comparing a model with itself
        # says nothing, and a re-run after this model was pushed must find the same baseline
        # it was evaluated against (so the evaluation stays cached).
        baseline = next(
            (v for v in reversed(serving.versions()) if serving.identity(v) != inputs.get("model")),
            None,
        )
    values = {"latest_version": latest, "baseline_version": baseline}
    if baseline is None:
        return External(values=values, digests={"baseline": "none"})
    identity = serving.identity(baseline)
    # What the baseline's kept scores are keyed by (see baseline_cache): read now, while the
    # version is certainly there.
    values["baseline_identity"] = identity
    return External(
        values=values, digests={"baseline": digest([serving.model_dir, baseline, identity])}
    )
