"""Evaluator: metrics on a held-out split, scored through the serving signature; a blessing."""

from components.core.spec import ComponentSpec
from components.evaluator.params import EvaluatorParams

SPEC = ComponentSpec(
    name="evaluator",
    artifact_type="ModelEvaluation",
    params=EvaluatorParams,
    entry_point="components.evaluator.run:run",
    inputs=("examples", "model"),
    description=__doc__ or "",
)
