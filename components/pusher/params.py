"""Pusher parameters: where the serving directory is, what the model is called, what to keep."""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import ComponentParams, External


class PusherParams(ComponentParams):
    serving_base: str = pydantic.Field(
        description="TensorFlow Serving base: versions go to <serving_base>/<model_name>/<version>"
    )
    model_name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]+$")
    keep_last: int = pydantic.Field(default=5, ge=1, description="versions kept after a push")
    validation: Literal["checksum", "load"] = pydantic.Field(
        default="checksum",
        description="how the copy is checked before it becomes visible: checksum (every file "
        "identical to the model the Evaluator loaded and scored; no TensorFlow needed) or load "
        "(load the copy and score raw examples through serving_default)",
    )
    validation_examples: int = pydantic.Field(
        default=20, ge=1, description="raw eval examples the copy scores (validation=load)"
    )

    def resolve_external(
        self, inputs: dict[str, str], frozen: dict[str, Any] | None = None
    ) -> External:
        """The serving state a push decision depends on: the newest version of *another* model
        and whether this model was rolled back. Another pipeline's push or a rollback makes a
        cached "pushed version N" untrue, so the push is decided again; this model's own push
        does not (its re-run stays cached)."""
        serving = ServingDirectory.of(self.serving_base, self.model_name)
        candidate = inputs.get("model")
        other = next(
            (v for v in reversed(serving.versions()) if serving.identity(v) != candidate), None
        )
        rolled_back = any(
            serving.identity_rolled_back(v) == candidate for v in serving.rolled_back()
        )
        state = [other, serving.identity(other) if other is not None else None, rolled_back]
        return External(digests={"served": digest(state)})
