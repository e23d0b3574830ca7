"""One typed accessor per artifact type (TFX's standard artifact names), each owning its layout.

A component asks its output for the place to write (``examples.shard_path("train", 0, 4)``) and
its inputs for what to read (``examples.split_files("eval")``); no component, runner or report
spells another component's file names.
"""

from __future__ import annotations

import glob
import os
from typing import Any, ClassVar

from tfpipe.components.artifacts.base import Artifact, open_artifact
from tfpipe.components.artifacts.shards import listed_records, listed_shards
from tfpipe.components.core.errors import InputDataError, TfpipeError
from tfpipe.components.core.schema import Schema


class Examples(Artifact):
    """Hash-split, sharded ``tf.Example`` TFRecords, the schema they were encoded with, per-split
    statistics and the rows set aside as malformed.

    A *window* (ExampleGen's default) holds no shards of its own: ``drops.json`` lists one
    Examples artifact per input file ("drop"), each cached by the file's bytes, and a split's
    files are the drops' files for that split, in drop order (no copy). A drop, or an artifact
    written in one pass (ExampleGen on Beam), holds its shards under ``splits/``."""

    TYPE = "Examples"
    SUFFIX = ".tfrecord"
    DROPS = "drops.json"

    def drops(self) -> list[dict[str, Any]]:
        """The drops of a window, in order: ``{"uri", "source", "digest", "rows", "splits",
        "reused"}`` each; empty for an artifact that holds its own shards."""
        path = self.path(self.DROPS)
        return list(self._read_json(self.DROPS)) if os.path.exists(path) else []

    def write_drops(self, drops: list[dict[str, Any]]) -> None:
        self._write_json(drops, self.DROPS)

    def new_drops_statistics(self) -> dict[str, Any]:
        """``{source: {"drop": stats per split, "rest": stats per split}}``: each drop this
        window's run converted, and the drops an earlier run had (for drift of what is new)."""
        path = self.path("new_drops_statistics.json")
        return dict(self._read_json("new_drops_statistics.json")) if os.path.exists(path) else {}

    def write_new_drops_statistics(self, statistics: dict[str, Any]) -> None:
        self._write_json(statistics, "new_drops_statistics.json")

    def drop_artifacts(self) -> list[Examples]:
        return [open_artifact(d["uri"], Examples) for d in self.drops()]

    def splits(self) -> list[str]:
        drops = self.drops()
        if drops:
            return sorted({s for d in drops for s in d["splits"]})
        base = self.path("splits")
        return sorted(os.listdir(base)) if os.path.isdir(base) else []

    def split_files(self, split: str) -> list[str]:
        if self.drops():
            files = [
                f
                for d in self.drop_artifacts()
                if split in d.splits()
                for f in d.split_files(split)
            ]
        else:
            files = sorted(glob.glob(self.path("splits", split, f"*{self.SUFFIX}*")))
        if not files:
            raise InputDataError(
                f"{self.TYPE} artifact {self.uri} has no '{split}' split "
                f"(splits: {self.splits()}); adjust the split parameters"
            )
        return files

    def split_files_by_drop(self, split: str) -> list[tuple[str, list[str]]]:
        """``[(drop key, files)]`` of a split: what can be analysed or scored once per drop and
        reused by every window holding it. One entry (this artifact) when it has no drops."""
        if not self.drops():
            return [(self.fingerprint, self.split_files(split))]
        return [
            (d.fingerprint, d.split_files(split))
            for d in self.drop_artifacts()
            if split in d.splits()
        ]

    def shard_path(self, split: str, index: int, count: int) -> str:
        directory = self.path("splits", split)
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, f"data-{index:05d}-of-{count:05d}{self.SUFFIX}")

    def schema(self) -> Schema:
        return Schema.from_json(self._read_json("schema.json"))

    def write_schema(self, schema: Schema) -> None:
        self._write_json(schema.to_json(), "schema.json")

    def statistics(self) -> dict[str, Any]:
        """``{split: {column: {count, missing, min, max, mean, top, histogram}}}``."""
        path = self.path("statistics.json")
        return self._read_json("statistics.json") if os.path.exists(path) else {}

    def write_statistics(self, statistics: dict[str, Any]) -> None:
        self._write_json(statistics, "statistics.json")

    def reset_splits(self) -> None:
        """Drop the splits written so far (a pass that must start over)."""
        import shutil

        shutil.rmtree(self.path("splits"), ignore_errors=True)

    def contract_text(self) -> str | None:
        """The contract the data was checked against (tensorflow-metadata Schema text)."""
        path = self.path("contract.pbtxt")
        return open(path, encoding="utf-8").read() if os.path.exists(path) else None

    def write_contract(self, text: str) -> None:
        with open(self.path("contract.pbtxt"), "w", encoding="utf-8") as f:
            f.write(text)

    @property
    def inferred_contract_path(self) -> str:
        """A contract proposed from this data (SchemaGen-style), to review and keep."""
        return self.path("inferred_schema.pbtxt")

    def write_inferred_contract(self, text: str) -> None:
        with open(self.inferred_contract_path, "w", encoding="utf-8") as f:
            f.write(text)

    @property
    def rejected_path(self) -> str:
        """Malformed input rows set aside (CSV: file, line, reason, raw text)."""
        return self.path("rejected.csv")


class ExampleValidation(Artifact):
    """Anomalies of new data against the expected schema (TFX: ExampleAnomalies)."""

    TYPE = "ExampleValidation"

    def anomalies(self) -> list[dict[str, Any]]:
        return list(self._read_json("anomalies.json")["anomalies"])

    def report(self) -> dict[str, Any]:
        return dict(self._read_json("anomalies.json"))

    def write_report(self, report: dict[str, Any]) -> None:
        self._write_json(report, "anomalies.json")


class TransformGraph(Artifact):
    """The tf.Transform output (graph + vocabularies + raw and transformed schemas) and, when
    materialized, transformed copies of the splits."""

    TYPE = "TransformGraph"

    @property
    def graph_dir(self) -> str:
        return self.path("transform_graph")

    @property
    def temp_dir(self) -> str:
        return self.path("tmp")

    @property
    def materialized(self) -> bool:
        return os.path.isdir(self.path("transformed"))

    def transformed_files(self, split: str) -> list[str]:
        """The committed shards of a transformed split (see ``shards.py``: duplicates or partial
        shards of retried Beam bundles are refused, naming the file)."""
        files = listed_shards(self.transformed_dir(split), f"{self.uri} split '{split}'")
        if not files:
            raise InputDataError(f"{self.uri} holds no transformed '{split}' split")
        return files

    def transformed_dir(self, split: str) -> str:
        return self.path("transformed", split)

    def check_transformed(self, split: str, rows: int | None) -> None:
        """tf.Transform maps row to row: a transformed split holds its input's row count, or a
        bundle was lost or counted twice."""
        self.transformed_files(split)
        written = listed_records(self.transformed_dir(split))
        if rows is not None and written != rows:
            raise TfpipeError(
                f"transform: split '{split}' has {written} transformed rows for {rows} input "
                "rows; a Beam bundle was lost or written twice (re-run the step)"
            )


class Model(Artifact):
    """A trained model: the serving SavedModel (raw tf.Examples in, transform graph inside), what
    the trainer recorded about it, its TensorBoard logs and checkpoints."""

    TYPE = "Model"

    @property
    def serving_dir(self) -> str:
        return self.path("serving_model")

    @property
    def logs_dir(self) -> str:
        return self.path("logs")

    @property
    def checkpoints_dir(self) -> str:
        return self.path("checkpoints")

    @property
    def cluster_file(self) -> str:
        return self.path("cluster.json")

    def info(self) -> dict[str, Any]:
        return saved_model_info(self.serving_dir)

    def write_info(self, info: dict[str, Any]) -> None:
        """Beside the artifact and inside the SavedModel (it travels with every pushed copy)."""
        self._write_json(info, "model_info.json")
        self._write_json(info, "serving_model", ASSETS_EXTRA, MODEL_INFO)


class ModelEvaluation(Artifact):
    """Metrics of the candidate (and the baseline it was compared with) and the verdict."""

    TYPE = "ModelEvaluation"

    @property
    def blessed(self) -> bool:
        return bool(self.summary.get("blessed"))

    def evaluation(self) -> dict[str, Any]:
        return dict(self._read_json("evaluation.json"))

    def write_evaluation(self, evaluation: dict[str, Any]) -> None:
        self._write_json(evaluation, "evaluation.json")


class BaselinePredictions(Artifact):
    """The served (baseline) model's scores on one eval shard file, kept beside the Evaluator's
    artifacts (step ``<evaluator step>.baseline``, keyed by the model's identity and the shard's
    content): a shard that cannot have changed is not scored again by a model that has not."""

    TYPE = "BaselinePredictions"
    FILE = "scores.npy"

    def scores(self) -> Any:
        import numpy as np

        return np.load(self.path(self.FILE), allow_pickle=False)

    def write_scores(self, scores: Any) -> None:
        import numpy as np

        np.save(self.path(self.FILE), scores, allow_pickle=False)


class PushedModel(Artifact):
    """The record of a push: the version and where it went, and the model card pushed with it."""

    TYPE = "PushedModel"

    @property
    def pushed(self) -> bool:
        return bool(self.summary.get("pushed"))

    def card(self) -> dict[str, Any] | None:
        path = self.path(ASSETS_EXTRA, MODEL_CARD)
        return self._read_json(ASSETS_EXTRA, MODEL_CARD) if os.path.exists(path) else None

    def write_card(self, card: dict[str, Any], markdown: str) -> None:
        write_model_card(self.root, card, markdown)


class InferenceResult(Artifact):
    """Rows scored by a model (TFX: InferenceResult): sharded Parquet, CSV or tf.Example TFRecord
    files of passthrough columns then predictions, in input order (``part-<input file>-<shard>``),
    and what was scored with what (``scoring.json``)."""

    TYPE = "InferenceResult"
    EXTENSIONS: ClassVar[dict[str, str]] = {
        "parquet": ".parquet",
        "csv": ".csv",
        "tfrecord": ".tfrecord",
    }

    def shard_path(self, file_index: int, shard: int, output_format: str) -> str:
        directory = self.path("predictions")
        os.makedirs(directory, exist_ok=True)
        name = f"part-{file_index:05d}-{shard:05d}{self.EXTENSIONS[output_format]}"
        return os.path.join(directory, name)

    def files(self) -> list[str]:
        """The shards, in row order (input file, then shard)."""
        return sorted(glob.glob(self.path("predictions", "part-*")))

    def relative(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def info(self) -> dict[str, Any]:
        return dict(self._read_json("scoring.json"))

    def write_info(self, info: dict[str, Any]) -> None:
        self._write_json(info, "scoring.json")


# The SavedModel side files every copy of a model carries (TF Serving ignores assets.extra).
ASSETS_EXTRA = "assets.extra"
MODEL_INFO = "model_info.json"
MODEL_CARD = "model_card.json"
MODEL_CARD_MD = "model_card.md"


def saved_model_info(saved_model_dir: str) -> dict[str, Any]:
    """What the trainer recorded next to a SavedModel (task, classes, label, how it was trained)."""
    from tfpipe.components.artifacts.local_store import read_json

    return dict(read_json(os.path.join(saved_model_dir, ASSETS_EXTRA, MODEL_INFO)))


def write_model_card(directory: str, card: dict[str, Any], markdown: str) -> None:
    from tfpipe.components.artifacts.local_store import write_json_atomic

    extra = os.path.join(directory, ASSETS_EXTRA)
    os.makedirs(extra, exist_ok=True)
    write_json_atomic(os.path.join(extra, MODEL_CARD), card)
    with open(os.path.join(extra, MODEL_CARD_MD), "w", encoding="utf-8") as f:
        f.write(markdown)


def prediction_files(uri: str) -> list[str]:
    """The local paths of a committed scoring's output files, in row order (downloaded first
    when the artifact is on an object store): what a consumer of the predictions asset reads."""
    from tfpipe.components.artifacts.base import open_artifact

    return open_artifact(uri, InferenceResult).files()
