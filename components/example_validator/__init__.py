"""ExampleValidator: new data checked against the pipeline's contract (anomalies listed with the
rows they affect; the run stops before Transform unless they are allowed) and compared with the
data the served model was trained on (drift)."""

from typing import Any

from tfpipe.components.artifacts import ExampleValidation
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.example_validator.params import ExampleValidatorParams


def summary_line(summary: dict[str, Any]) -> str:
    blocking, total = summary.get("blocking", 0), summary.get("anomalies", 0)
    drifted = summary.get("drifted_columns") or []
    if not summary.get("contract", True):
        text = "no contract: nothing checked"
        if summary.get("inferred_contract"):
            text += (
                f" (a contract inferred from this data is at {summary['inferred_contract']}: "
                "review it and set example_gen.schema_file to check new data against it)"
            )
    elif not total:
        text = "no anomalies"
    else:
        text = f"{total} anomalies ({blocking} blocking)"
    if drifted:
        text += f"; drift in {', '.join(drifted)}"
    return text


SPEC = ComponentSpec(
    name="example_validator",
    artifact_type=ExampleValidation,
    params=ExampleValidatorParams,
    entry_point="tfpipe.components.example_validator.run:run",
    resolve="tfpipe.components.example_validator.resolve:resolve",
    inputs=("examples",),
    description=__doc__ or "",
    summary_line=summary_line,
    report_section="tfpipe.components.example_validator.report:report",
    needs_tensorflow=False,
)
