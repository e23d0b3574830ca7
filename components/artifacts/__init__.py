"""The artifact catalog: typed accessors for every artifact type, the commit protocol, the store
that does the I/O, and the TF Serving directory that pushed models go to."""

from tfpipe.components.artifacts.base import (
    Artifact,
    ArtifactNotCommitted,
    artifact_lock,
    copy_committed,
    is_committed,
    open_artifact,
    read_manifest,
    remove_stale_staging,
    staged,
    utc_now,
)
from tfpipe.components.artifacts.local_store import read_json, write_json_atomic
from tfpipe.components.artifacts.serving import ServingDirectory, StaleBaseline
from tfpipe.components.artifacts.types import (
    BaselinePredictions,
    Examples,
    ExampleValidation,
    InferenceResult,
    Model,
    ModelEvaluation,
    PushedModel,
    TransformGraph,
    prediction_files,
    saved_model_info,
    write_model_card,
)

__all__ = [
    "Artifact",
    "ArtifactNotCommitted",
    "BaselinePredictions",
    "ExampleValidation",
    "Examples",
    "InferenceResult",
    "Model",
    "ModelEvaluation",
    "PushedModel",
    "ServingDirectory",
    "StaleBaseline",
    "TransformGraph",
    "artifact_lock",
    "copy_committed",
    "is_committed",
    "open_artifact",
    "prediction_files",
    "read_json",
    "read_manifest",
    "remove_stale_staging",
    "saved_model_info",
    "staged",
    "utc_now",
    "write_json_atomic",
    "write_model_card",
]
