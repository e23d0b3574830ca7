"""A pipeline's scoring pipeline: one ``bulk_inferrer`` step that scores new data with the model
the pipeline serves, defined from the pipeline itself (no second file to keep in step).

``tfpipe score <pipeline>`` runs it with the local runner; ``build_scoring_dag("<pipeline>")``
turns it into an Airflow DAG started by data drops and by pushed models. Its name is the
pipeline's, so its runs, artifacts and reports sit with the pipeline's own (``tfpipe runs``); the
served model and the default data come from the pipeline's Pusher and ExampleGen steps, the
passthrough columns and output format from its :class:`Scoring`. (A pipeline definition, so it
names the component it composes, as any pipeline file does.)
"""

from __future__ import annotations

from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline, RunParam, Step

STEP = "bulk_inferrer"
DATA = "data"


def scoring_pipeline(base: Pipeline) -> Pipeline:
    try:
        serving = base.serving_directory()
    except ParameterError:
        raise ParameterError(
            f"pipeline '{base.name}' has no step that publishes models, so it serves no model "
            "to score with"
        ) from None
    data = next((rp for rp in base.run_params if rp.name == DATA), None)
    default_data = base.run_param_default(data) if data else base.data_location()
    params = {"data": default_data, "serving_model_dir": serving.model_dir}
    params.update(base.scoring.params)
    run_params = (
        RunParam(
            DATA,
            f"{STEP}.data",
            dict(data.schema) if data else {"type": ["string", "array"], "minLength": 1},
            "path or glob (or a list of them) of the CSV / Parquet / TFRecord files to score; "
            "empty: the pipeline's own data",
            optional=True,
        ),
        RunParam(
            "model_version",
            f"{STEP}.model_version",
            {"type": ["integer", "string"], "pattern": "^latest$", "minimum": 1},
            "the served version to score with: a version number, or latest",
        ),
        RunParam(
            "passthrough",
            f"{STEP}.passthrough",
            {"type": "array", "items": {"type": "string", "minLength": 1}},
            "input columns copied next to the predictions (ids, keys, timestamps)",
        ),
        RunParam(
            "output_format",
            f"{STEP}.output_format",
            {"type": "string", "enum": ["parquet", "csv", "tfrecord"]},
            "the files written: Parquet, CSV or tf.Example TFRecords",
        ),
    )
    names = {rp.name for rp in run_params}
    return Pipeline(
        name=base.name,
        description=f"Scores new data with the served {base.name} model ({serving.model_dir}).",
        runtime=base.runtime,
        schedule=None,
        steps=(Step(STEP, "bulk_inferrer", params),),
        run_params=run_params,
        scoring=base.scoring,
        ignored_trigger_keys=tuple(rp.name for rp in base.run_params if rp.name not in names),
    )
