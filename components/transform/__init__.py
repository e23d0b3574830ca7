"""Transform: the user's preprocessing_fn analysed and applied by tf.Transform on Apache Beam."""

from components.core.spec import ComponentSpec
from components.transform.params import TransformParams

SPEC = ComponentSpec(
    name="transform",
    artifact_type="TransformGraph",
    params=TransformParams,
    entry_point="components.transform.run:run",
    inputs=("examples",),
    description=__doc__ or "",
)
