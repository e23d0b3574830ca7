"""Whether this run starts from the weights of the model served now (``trainer.warm_start``).

A warm start is only worth having when the served model was trained on what this run trains on:
the same transformed features (names, dtypes, kinds, vocabulary sizes), the same task, label and
classes, and a model whose variables have this run's shapes. Anything else starts cold, and the
reason is recorded (the Model's manifest summary, its model info and the trainer's report), so a
run that did not warm start says why instead of silently training from random weights.

The comparison of what the models were trained on needs no TensorFlow (the served model's
``model_info.json``); the variable check is the backend's (``warm_start_mismatch``), since only
it knows how its variables are named.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts import ServingDirectory

NOTHING_SERVED = "nothing served yet"


@dataclass(frozen=True)
class WarmStart:
    """The warm-start decision of one run (``path``: the pinned served SavedModel, when used)."""

    requested: str  # "served" | "none"
    version: int | None = None
    used: bool = False
    reason: str = ""
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "version": self.version,
            "used": self.used,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """E.g. "warm start from served version 3", "cold start (nothing served yet)"."""
        if self.requested == "none":
            return "cold start"
        if self.used:
            return f"warm start from served version {self.version}"
        return f"cold start ({self.reason})"


def feature_specs(features: list[Any]) -> dict[str, dict[str, Any]]:
    """What the model's inputs are: ``{name: {dtype, kind, num_buckets}}`` (recorded in the model
    info, compared by the next run that warm starts from it)."""
    return {
        f.name: {"dtype": f.dtype.name, "kind": f.kind, "num_buckets": int(f.num_buckets)}
        for f in features
    }


def info_mismatch(served: dict[str, Any] | None, this: dict[str, Any]) -> str:
    """Why the served model was trained on something else than this run ('' when it was not).

    ``this``: task, label, classes (None when the label has no vocabulary), num_classes (0 when
    unknown), transformed_features (see ``feature_specs``), vocabularies (see
    ``vocabulary_digests``: compared where both models recorded them). A served model recorded
    before feature specs were (``features`` only) is compared by feature names."""
    if served is None:
        return "the served model has no tfpipe model_info (pushed by something else)"
    if served.get("contract") == "run_fn":
        return "the served model was trained by a run_fn module (its own model and variables)"
    if served.get("task") != this["task"]:
        return f"the served model is a {served.get('task')} model, this run trains a {this['task']}"
    if served.get("label") != this["label"]:
        return f"the served model's label is '{served.get('label')}', this run's '{this['label']}'"
    classes = served.get("classes")
    if this["classes"] is not None and classes is not None and classes != this["classes"]:
        return f"the label vocabulary changed: served {classes}, now {this['classes']}"
    if this["num_classes"] and classes is not None and len(classes) != this["num_classes"]:
        return f"the served model has {len(classes)} classes, this run {this['num_classes']}"
    mine: dict[str, dict[str, Any]] = this["transformed_features"]
    theirs = served.get("transformed_features")
    if theirs is None:
        names = sorted(served.get("features") or [])
        if names != sorted(mine):
            return f"the transformed features changed: served {names}, now {sorted(mine)}"
        return ""
    if sorted(theirs) != sorted(mine):
        gone, new = sorted(set(theirs) - set(mine)), sorted(set(mine) - set(theirs))
        return f"the transformed features changed (no longer: {gone}; new: {new})"
    changed = [
        f"{name} {theirs[name]} -> {mine[name]}"
        for name in sorted(mine)
        if {k: theirs[name].get(k) for k in mine[name]} != mine[name]
    ]
    if changed:
        return "the transformed feature spec changed: " + "; ".join(changed)
    theirs_vocab, mine_vocab = served.get("vocabularies"), this.get("vocabularies")
    if theirs_vocab is not None and mine_vocab is not None:
        moved = sorted(n for n in mine_vocab if theirs_vocab.get(n, mine_vocab[n]) != mine_vocab[n])
        if moved:
            return (
                f"the vocabularies {moved} changed since the served model was trained (their "
                "ids now mean other values: its weights for them would be wrong)"
            )
    return ""


def vocabulary_digests(graph_dir: str) -> dict[str, str]:
    """``{vocabulary file: sha256 prefix}`` of a transform graph's vocabularies (its assets):
    a vocabulary whose order or contents changed gives its ids other meanings, whatever its
    size."""
    import hashlib
    import os

    assets = os.path.join(graph_dir, "transform_fn", "assets")
    found = {}
    for name in sorted(os.listdir(assets)) if os.path.isdir(assets) else []:
        path = os.path.join(assets, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                found[name] = hashlib.sha256(f.read()).hexdigest()[:16]
    return found


def this_run(job: Any) -> dict[str, Any]:
    """What this run trains on, in the terms ``info_mismatch`` compares (imports TensorFlow
    through the job's transformed schema)."""
    classification = job.p.task == "classification"
    return {
        "task": job.p.task,
        "label": job.p.label,
        "classes": job.classes if classification else None,
        "num_classes": job.num_classes if classification else 0,
        "transformed_features": feature_specs(job.features),
        "vocabularies": vocabulary_digests(job.transform.graph_dir),
    }


def decide(
    job: Any,
    version: int | None,
    weights_mismatch: Callable[[str], str] | None,
    stack: contextlib.ExitStack,
) -> WarmStart:
    """The warm start of ``job``: the served ``version`` frozen when the step was resolved,
    pinned (a private copy, held until ``stack`` closes) and compared with this run.
    ``weights_mismatch``: the backend's variable check, None where it cannot run here (a task
    of an external cluster, which must create its strategy before any TensorFlow op; a misfit
    there fails when the weights are restored, naming the layer)."""
    p = job.p
    if p.warm_start != "served":
        return WarmStart("none")
    if version is None:
        return WarmStart("served", None, False, NOTHING_SERVED)
    serving = ServingDirectory.at(p.served_model_dir)
    assert serving is not None  # warm_start=served requires served_model_dir
    pinned = stack.enter_context(serving.pinned(version))
    reason = info_mismatch(pinned.info, this_run(job))
    if not reason and weights_mismatch is not None:
        reason = weights_mismatch(pinned.path)
    if reason:
        return WarmStart("served", version, False, reason)
    return WarmStart("served", version, True, "", pinned.path)
