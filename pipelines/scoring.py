"""A pipeline's scoring pipeline: one ``bulk_inferrer`` step that scores new data with the model
the pipeline serves, defined from the pipeline itself (no second file to keep in step).

``tfpipe score <pipeline>`` runs it with the local runner; ``build_scoring_dag("<pipeline>")``
turns it into an Airflow DAG started by data drops and by pushed models. Its name is the
pipeline's, so its runs, artifacts and reports sit with the pipeline's own (``tfpipe runs``); the
served model is the one the pipeline's publishing step pushes to, the default data its own, the
passthrough columns and output format come from its :class:`Scoring`.
"""

from __future__ import annotations

from tfpipe.components import COMPONENT_NAMES, get_spec
from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline, RunParam, Step

DATA = "data"


def scorer() -> str:
    """The component that scores data with a served model (its spec says so)."""
    found = [name for name in COMPONENT_NAMES if get_spec(name).scorer]
    if len(found) != 1:
        raise ParameterError(f"expected one scoring component, found {found}")
    return found[0]


def scoring_pipeline(base: Pipeline) -> Pipeline:
    """``base``'s scoring pipeline: one step, named as its component."""
    step = scorer()
    serving = base.serving_directory()  # refuses a pipeline that publishes no model
    data = next((rp for rp in base.run_params if rp.name == DATA), None)
    default_data = base.run_param_default(data) if data else None  # else: given per run
    params = {"data": default_data, "serving_model_dir": serving.model_dir}
    params.update(base.scoring.params)
    run_params = (
        RunParam(
            DATA,
            f"{step}.data",
            {"minLength": 1},
            "path or glob (or a list of them) of the CSV / Parquet / TFRecord files to score; "
            "empty: the pipeline's own data",
            optional=True,
        ),
        RunParam("model_version", f"{step}.model_version", {"minimum": 1, "pattern": "^latest$"}),
        RunParam("passthrough", f"{step}.passthrough"),
        RunParam("output_format", f"{step}.output_format"),
    )
    names = {rp.name for rp in run_params}
    return Pipeline(
        name=base.name,
        description=f"Scores new data with the served {base.name} model ({serving.model_dir}).",
        runtime=base.runtime,
        schedule=None,
        steps=(Step(step, step, params),),
        run_params=run_params,
        environment=base.environment,
        scoring=base.scoring,
        ignored_trigger_keys=tuple(rp.name for rp in base.run_params if rp.name not in names),
    )
