"""Scoring serving SavedModels on raw examples, overall and per slice, as a client would.

One pass over the eval split scores the candidate and the baseline on the same batches. Labels come
from the raw column, or, for a label that ``preprocessing_fn`` computes, from the candidate's
transform graph (its ``transform_features`` signature, or the TransformGraph it was trained with),
so both models are judged against the same labels. Models saved by a TFX module's ``run_fn`` are
read through ``signatures``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from tfpipe.components.artifacts import saved_model_info
from tfpipe.components.core.batching import BatchPlan, plan_batches
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.schema import Schema
from tfpipe.components.core.tf_features import DTYPES
from tfpipe.components.evaluator.baseline_cache import BaselineCache
from tfpipe.components.evaluator.metrics import ClassificationMetrics, RegressionMetrics
from tfpipe.components.evaluator.signatures import preprocessing_function, serving_function

PROBE_ROWS = 4096
MISSING = "(missing)"
OTHER = "(other)"


@dataclass
class ScoredModel:
    """One model's serving signature and its metric accumulators."""

    export_dir: str
    info: dict[str, Any]
    loaded: Any
    serve: Any
    make: Callable[[bool], Any]
    overall: Any = None
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def classification(self) -> bool:
        return self.info["task"] == "classification"


def load_model(
    export_dir: str,
    threshold: float,
    signature: str = "serving_default",
    prediction_key: str | None = None,
) -> ScoredModel:
    info = saved_model_info(export_dir)
    loaded = tf.saved_model.load(export_dir)
    # tfpipe's serving contract, whichever convention the model was saved with (see signatures)
    serve, info = serving_function(loaded, info, signature, prediction_key, export_dir)
    if info["task"] == "classification":
        k = len(info.get("classes") or []) or 2

        def make(detail: bool) -> Any:
            return ClassificationMetrics(k, threshold, detail=detail)
    else:

        def make(detail: bool) -> Any:
            return RegressionMetrics(detail=detail)

    overall = make(True)
    overall.compile()  # one traced update for the overall metrics (slices stay eager)
    return ScoredModel(export_dir, info, loaded, serve, make, overall=overall)


class Labels:
    """Where labels come from: a raw column, or a transformed feature (the model's own label
    when ``label`` is unset, e.g. TFX's ``tips_xf``) read through the candidate's preprocessing
    function."""

    def __init__(
        self,
        label: str | None,
        schema: Schema,
        candidate: ScoredModel,
        transform_dir: str,
        functions: list[str] | None = None,
    ):
        self.raw = label if label is not None and label in schema.names else None
        self.transformed = self.raw is None
        self.name = label or candidate.info.get("label") or ""
        self.classification = candidate.classification
        self.transform: Any = None
        if not self.name:
            raise InputDataError(
                "evaluator: the model records no label (a run_fn module names it as the "
                "label_key of data_accessor.tf_dataset_factory); set evaluator.label to a raw "
                f"column ({schema.names}) or a transformed feature"
            )
        if self.transformed:
            self.transform, features = preprocessing_function(
                candidate.loaded, functions or [], transform_dir, candidate.export_dir
            )
            if self.name not in features:
                raise InputDataError(
                    f"evaluator: label '{self.name}' is neither a column of the examples "
                    f"({schema.names}) nor a transformed feature ({features})"
                )

    def spec(self, schema: Schema) -> dict[str, Any]:
        if self.raw is None:
            return {}
        return {self.raw: tf.io.VarLenFeature(DTYPES[schema.column(self.raw).type])}

    def values(self, batch: tf.Tensor, parsed: dict[str, Any], rows: int) -> np.ndarray:
        """Raw label values per row (text for classes, float for regression; missing marked)."""
        if self.raw is not None:
            return column(parsed[self.raw], rows, as_text=self.classification)
        value = self.transform(batch)[self.name]
        if isinstance(value, tf.SparseTensor):
            value = tf.sparse.to_dense(value)
        array = np.asarray(value.numpy()).reshape(rows, -1)[:, 0]
        return array.astype(np.int64 if self.classification else float)

    def present(self, values: np.ndarray) -> np.ndarray:
        if values.dtype == object:
            return values != MISSING
        if values.dtype.kind == "f":
            return ~np.isnan(values)
        return np.ones(len(values), bool)


def column(parsed: tf.SparseTensor, rows: int, as_text: bool) -> np.ndarray:
    """One value per row from an optional raw feature; MISSING (or NaN) where absent."""
    present = np.zeros(rows, dtype=bool)
    present[parsed.indices[:, 0].numpy()] = True
    values = parsed.values.numpy()
    if as_text:
        out = np.full(rows, MISSING, dtype=object)
        if values.dtype == object:  # bytes
            out[present] = np.char.decode(values.astype(bytes), "utf-8", errors="replace")
        else:
            out[present] = values.astype(str)
    else:
        out = np.full(rows, np.nan)
        out[present] = values
    return out


def class_ids(model: ScoredModel, labels: np.ndarray, by_id: bool) -> np.ndarray:
    """Each row's class index in this model's class list (-1: unknown). ``by_id``: labels are
    already class ids (a transformed label)."""
    classes = model.info.get("classes") or ["0", "1"]
    if by_id:
        ids = labels.astype(np.int64)
        return np.where((ids >= 0) & (ids < len(classes)), ids, -1)
    index = {c: i for i, c in enumerate(classes)}
    unique, inverse = np.unique(labels.astype(str), return_inverse=True)
    return np.array([index.get(u, -1) for u in unique], dtype=np.int64)[inverse]


def batches(files: list[str], batch_size: int) -> Iterator[tf.Tensor]:
    return iter(tf.data.TFRecordDataset(files).batch(batch_size).prefetch(2))


def plan(
    models: list[ScoredModel], labels: Labels, files: list[str], batch_size: int | None, budget: int
) -> BatchPlan:
    """The batch size: every model scores each batch (and the label transform reads it), so their
    costs per row add up; measured on the first examples of the split."""
    sample = next(batches(files, PROBE_ROWS), tf.constant([], tf.string))

    def work(batch: tf.Tensor) -> Any:
        outputs = [{k: v.numpy() for k, v in m.serve(examples=batch).items()} for m in models]
        if labels.transform is not None:
            outputs.append(labels.transform(batch))
        return outputs

    # Two batches wait in tf.data's prefetch buffer.
    record_bytes = int(tf.reduce_mean(tf.strings.length(sample))) if sample.shape[0] else 0
    return plan_batches(
        work,
        sample,
        budget_mb=budget,
        batch_size=batch_size,
        rows=lambda s: int(s.shape[0]),
        extra_per_row=3 * record_bytes,
    )


def score(
    models: dict[str, str],
    files: list[str],
    schema: Schema,
    label: str | None,
    slice_by: list[str],
    *,
    batch_size: int | None,
    memory_budget_mb: int,
    threshold: float,
    max_slice_values: int,
    transform_dir: str,
    signature: str = "serving_default",
    prediction_key: str | None = None,
    preprocessing_functions: list[str] | None = None,
    caches: dict[str, BaselineCache] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score every model of ``models`` (name -> SavedModel dir; the first is the candidate, whose
    label defines the truth) on the same examples; return per model overall/slices/details.

    ``caches``: for models other than the candidate, where their scores per shard are kept
    (``baseline_cache``): each shard they have scored before is read back, the others are scored
    once, shard by shard, and kept; the metrics then read the same scores either way."""
    caches = caches or {}
    loaded = {
        name: load_model(path, threshold, signature, prediction_key)
        for name, path in models.items()
    }
    candidate = next(iter(loaded.values()))
    labels = Labels(label, schema, candidate, transform_dir, preprocessing_functions)
    spec = {**labels.spec(schema)}
    for s in slice_by:
        spec[s] = tf.io.VarLenFeature(DTYPES[schema.column(s).type])
    missing_labels = unknown_labels = 0
    seen_values: dict[str, set[str]] = {s: set() for s in slice_by}
    # The candidate is scored on every row; its scores are held for its cache (committed by the
    # caller if it is blessed: a model that may be served, whose scores the next run reuses).
    hits = {
        name: {f: None if loaded[name] is candidate else cache.load(f) for f in files}
        for name, cache in caches.items()
        if name in loaded
    }
    # Only the models that score anything now count towards the batch size.
    scoring = [
        m for n, m in loaded.items() if n not in hits or any(v is None for v in hits[n].values())
    ]
    batch_plan = plan(scoring, labels, files, batch_size, memory_budget_mb)
    start = time.perf_counter()
    stored: dict[str, np.ndarray] = {}
    for name, found in hits.items():
        model, cache = loaded[name], caches[name]
        if model is candidate:
            parts = [cache.hold(f, score_shard(model, f, batch_plan.batch_size)) for f in found]
        else:
            parts = [
                scores
                if scores is not None
                else cache.scores(f, lambda f=f, m=model: score_shard(m, f, batch_plan.batch_size))
                for f, scores in found.items()
            ]
        stored[name] = np.concatenate(parts) if parts else empty_scores(model)
    cached_seconds = time.perf_counter() - start
    start = time.perf_counter()
    offset = 0
    for batch in batches(files, batch_plan.batch_size):
        rows = int(batch.shape[0])
        first_row, offset = offset, offset + rows
        parsed = tf.io.parse_example(batch, spec) if spec else {}
        values = labels.values(batch, parsed, rows)
        has_label = labels.present(values)
        missing_labels += int((~has_label).sum())
        if not has_label.any():
            continue
        kept = batch if has_label.all() else tf.boolean_mask(batch, has_label)
        values = values[has_label]
        slice_values = {
            s: _capped(
                column(parsed[s], rows, as_text=True)[has_label], seen_values[s], max_slice_values
            )
            for s in slice_by
        }
        for name, model in loaded.items():
            if name in stored:
                scores = stored[name][first_row : first_row + rows]
                scores = scores if has_label.all() else scores[has_label]
            else:
                scores = model.serve(examples=kept)[output_key(model)].numpy()
            if model.classification:
                truth = class_ids(model, values, by_id=labels.transformed)
                known = truth >= 0
                if model is candidate:
                    unknown_labels += int((~known).sum())
                truth, scores_known = truth[known], scores[known]
                row_slices = {s: v[known] for s, v in slice_values.items()}
            else:
                truth, scores_known = values.astype(float), scores
                row_slices = slice_values
            model.overall.update(truth, scores_known)
            for s, vals in row_slices.items():
                for value in np.unique(vals):
                    mask = vals == value
                    acc = model.slices.setdefault(s, {}).get(value)
                    if acc is None:
                        acc = model.slices[s][value] = model.make(False)
                    acc.update(truth[mask], scores_known[mask])
    scoring_seconds = time.perf_counter() - start
    results = {}
    for name, model in loaded.items():
        overall = model.overall.result()
        overall["missing_labels"] = missing_labels
        if model.classification:
            overall["unknown_labels"] = unknown_labels
        results[name] = {
            "overall": overall,
            "details": model.overall.details(model.info.get("classes") or ["0", "1"]),
            "slices": {
                s: {v: acc.result() for v, acc in sorted(values.items())}
                for s, values in model.slices.items()
            },
            "task": model.info["task"],
            "label": labels.name,
            # the per-shard pass (kept scores) included: the candidate is scored in it
            "scoring_seconds": round(scoring_seconds + cached_seconds, 3),
            "batch_plan": batch_plan.as_dict(),
        }
        if name in caches and name in stored:
            results[name]["cache"] = {
                **caches[name].counts(),
                "seconds": round(cached_seconds, 3),
            }
    return results


def output_key(model: ScoredModel) -> str:
    """The serving output the metrics read."""
    return "probabilities" if model.classification else "predictions"


def empty_scores(model: ScoredModel) -> np.ndarray:
    if model.classification:
        return np.zeros((0, len(model.info.get("classes") or []) or 2), np.float32)
    return np.zeros((0,), np.float32)


def score_shard(model: ScoredModel, shard: str, batch_size: int) -> np.ndarray:
    """One model's scores on every row of one shard file, in file order."""
    key = output_key(model)
    parts = [model.serve(examples=batch)[key].numpy() for batch in batches([shard], batch_size)]
    return np.concatenate(parts) if parts else empty_scores(model)


def _capped(values: np.ndarray, seen: set[str], limit: int) -> np.ndarray:
    """Slice values beyond the first ``limit`` distinct ones become OTHER (bounded memory)."""
    out = values.copy()
    for value in np.unique(values):
        if value not in seen:
            if len(seen) >= limit:
                out[values == value] = OTHER
                continue
            seen.add(value)
    return out
