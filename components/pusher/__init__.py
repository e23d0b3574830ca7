"""Pusher: copies a blessed model into a versioned serving directory, atomically."""

from components.core.spec import ComponentSpec
from components.pusher.params import PusherParams

SPEC = ComponentSpec(
    name="pusher",
    artifact_type="PushedModel",
    params=PusherParams,
    entry_point="components.pusher.run:run",
    inputs=("model", "evaluation"),
    description=__doc__ or "",
)
