"""What the Bulk Inferrer reads from outside the store: the data files (by content) and the served
version it scores with (by identity), frozen for the run; refused here, before anything runs: no
data or no model, an unblessed served version, passthrough columns that the data lacks."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.bulk_inferrer.columns import check_passthrough, data_columns
from tfpipe.components.bulk_inferrer.params import WHO, BulkInferrerParams
from tfpipe.components.core.errors import InputDataError, ParameterError
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import External
from tfpipe.components.example_gen.inputs import (
    check_inside,
    check_unchanged,
    input_digest,
    match_input,
    missing_inputs,
)


def resolve(
    params: BulkInferrerParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    frozen = frozen or {}
    values: dict[str, Any] = {}
    digests: dict[str, str] = {}
    columns: list[str] | None = None
    if ("examples" in inputs) == (params.data is not None):
        raise ParameterError(
            f"{WHO}: give the data to score either as `data` (files) or as an `examples` "
            f"input, exactly one (got {'both' if params.data is not None else 'neither'})"
        )
    if params.data is not None:
        # ExampleGen's way: matched now (inside the data roots a trigger is held to), then
        # frozen; identified by content, with the stamps the files were hashed at.
        if frozen.get("input_files"):
            files = list(frozen["input_files"])
            objects = dict(frozen.get("input_objects") or {})
            if params.data_roots is not None:
                check_inside(files, params.data_roots, "given as data")
        else:
            files, objects = match_input(params.data, params.data_roots, WHO, "score")
        missing = missing_inputs(files)
        if missing:
            raise InputDataError(f"{WHO}: input file(s) {missing} disappeared after planning")
        if frozen.get("input_stamps") is not None:
            check_unchanged(files, frozen["input_stamps"])
        values["input_files"] = files
        if objects:
            values["input_objects"] = objects
        digests["data"], values["input_stamps"] = input_digest(files, objects)
        columns = data_columns(files, params.input_format)
    if "model" in inputs:
        if params.serving_model_dir:
            raise ParameterError(
                f"{WHO}: the step has a `model` input and a serving_model_dir; score with one"
            )
        if "evaluation" not in inputs and not params.allow_unblessed:
            raise ParameterError(
                f"{WHO}: a `model` input needs its `evaluation` input (only blessed models "
                "score), or allow_unblessed=true"
            )
    else:
        values.update(_served(params, frozen))
        digests["model"] = digest([values["model_version"], values["model_identity"]])
    if columns is not None:
        check_passthrough(params.passthrough, columns, values.get("outputs"), WHO)
    return External(values=values, digests=digests)


def _served(params: BulkInferrerParams, frozen: dict[str, Any]) -> dict[str, Any]:
    serving = ServingDirectory.at(params.serving_model_dir)
    if serving is None:
        raise ParameterError(
            f"{WHO}: no model to score with: wire a `model` input, or set serving_model_dir"
        )
    if frozen.get("model_version") is not None:
        version = int(frozen["model_version"])
    elif params.model_version == "latest":
        version = serving.latest()
        if version is None:
            raise InputDataError(
                f"{WHO}: no version of the model is served in {serving.model_dir} yet; push "
                "one (tfpipe run) before scoring with it"
            )
    else:
        version = int(params.model_version)
    available = serving.versions()
    if version not in available:
        raise InputDataError(
            f"{WHO}: version {version} is not served in {serving.model_dir}; versions: {available}"
        )
    # A tfpipe push carries a model card, and the Pusher publishes only blessed models.
    card = serving.card(version)
    if card is None and not params.allow_unblessed:
        raise InputDataError(
            f"{WHO}: version {version} of {serving.model_dir} was not pushed by tfpipe's "
            "Pusher (no model card), so nothing says it was blessed; refusing to score with "
            "it (set allow_unblessed=true to score anyway)"
        )
    info = serving.info(version) or {}
    return {
        "model_version": version,
        "model_identity": serving.identity(version),
        "model_dir": serving.version_dir(version),
        "outputs": {"task": info.get("task"), "classes": info.get("classes")},
    }
