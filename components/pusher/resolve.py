"""What the Pusher reads from outside the store: the serving directory's state."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import External
from tfpipe.components.pusher.params import PusherParams


def resolve(
    params: PusherParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """The serving state a push decision depends on: the newest version of *another* model
    and whether this model was rolled back. Another pipeline's push or a rollback makes a
    cached "pushed version N" untrue, so the push is decided again; this model's own push
    does not (its re-run stays cached)."""
    serving = ServingDirectory.of(params.serving_base, params.model_name)
    candidate = inputs.get("model")
    other = next(
        (v for v in reversed(serving.versions()) if serving.identity(v) != candidate), None
    )
    rolled_back = any(serving.identity_rolled_back(v) == candidate for v in serving.rolled_back())
    state = [other, serving.identity(other) if other is not None else None, rolled_back]
    return External(digests={"served": digest(state)})
