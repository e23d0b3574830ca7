"""ExampleGen: CSV / TFRecord / Parquet → hash-split tf.Example TFRecords + an inferred schema."""

from components.core.spec import ComponentSpec
from components.example_gen.params import ExampleGenParams

SPEC = ComponentSpec(
    name="example_gen",
    artifact_type="Examples",
    params=ExampleGenParams,
    entry_point="components.example_gen.run:run",
    description=__doc__ or "",
)
