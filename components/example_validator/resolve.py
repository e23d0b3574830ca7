"""What the ExampleValidator reads from outside the store: the data the served model was
trained on (drift is measured against it)."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import External
from tfpipe.components.example_validator.params import ExampleValidatorParams


def resolve(
    params: ExampleValidatorParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """The served model's training data, whose statistics drift is measured against: the
    newest version trained on other data than these examples (after this data's own model
    is pushed, a re-run still compares with the data before it, and stays cached)."""
    serving = ServingDirectory.at(params.baseline_model_dir)
    version = (frozen or {}).get("served_version") if frozen else None
    if frozen is None and serving is not None:
        version = next(
            (
                v
                for v in reversed(serving.versions())
                if ((serving.card(v) or {}).get("data") or {}).get("examples_fingerprint")
                != inputs.get("examples")
            ),
            None,
        )
    card = serving.card(version) if serving is not None and version is not None else None
    examples = (card or {}).get("data", {}).get("examples_uri")
    return External(
        values={"served_version": version, "baseline_examples": examples},
        digests={"baseline_examples": digest(examples)},
    )
