"""Trainer: the user's model trained on transformed examples, exported with the transform graph."""

from components.core.spec import ComponentSpec
from components.trainer.params import TrainerParams

SPEC = ComponentSpec(
    name="trainer",
    artifact_type="Model",
    params=TrainerParams,
    entry_point="components.trainer.run:run",
    inputs=("transform",),
    description=__doc__ or "",
)
