"""TFMA's ``EvalConfig``, as TFX pipelines write it, read into the Evaluator's own parameters.

Given as a dict (``tfma.EvalConfig(...)`` spelled as data; ``lower_bound={"value": 0.6}`` as in
TFX's examples is accepted) or as TFMA's text format (the ``eval_config.pbtxt`` of a TFX pipeline).
Both are parsed by protobuf itself (``text_format`` / ``json_format``) against a descriptor of the
subset tfpipe supports, built here with TFMA's message names and field numbers
(``tensorflow_model_analysis/proto/config.proto``): protobuf's parsers are the reference for the
format (comments, optional colons before messages, ``[a, b]`` lists, enum names, string escapes),
and a hand parser of that grammar would be larger than this file. TFMA is in neither runtime, and
protobuf is in every one (the orchestrator included), so a config is checked at planning.

What tfpipe supports, and what it becomes:

- ``model_specs`` (one, the candidate): ``label_key`` → ``label``, ``prediction_key``,
  ``signature_name``, ``preprocessing_function_names``; ``name`` is accepted and unused.
- ``slicing_specs``: ``{}`` (overall, always computed) and ``{feature_keys: ["col"]}`` →
  ``slice_by`` (one raw column per spec).
- ``metrics_specs``: ``metrics`` by ``class_name`` (``BinaryAccuracy``, ``AUC``, …; see
  ``CLASS_NAMES``) and ``thresholds`` keyed by metric name; ``value_threshold`` bounds →
  ``thresholds``, ``change_threshold`` (``absolute`` with the metric's own ``direction``) →
  ``change_thresholds``.

Anything else is refused, naming the field.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

PACKAGE = "tensorflow_model_analysis"
DOUBLE = ".google.protobuf.DoubleValue"

# tfpipe metric for each metric class (tf.keras.metrics / tfma.metrics names), and for each metric
# name a TFMA threshold map may key on.
CLASS_NAMES = {
    "BinaryAccuracy": "accuracy",
    "Accuracy": "accuracy",
    "SparseCategoricalAccuracy": "accuracy",
    "CategoricalAccuracy": "accuracy",
    "AUC": "auc",
    "AUCPrecisionRecall": "pr_auc",
    "Precision": "precision",
    "Recall": "recall",
    "F1Score": "f1",
    "BinaryCrossentropy": "log_loss",
    "SparseCategoricalCrossentropy": "log_loss",
    "CategoricalCrossentropy": "log_loss",
    "ExampleCount": "example_count",
    "MeanAbsoluteError": "mae",
    "RootMeanSquaredError": "rmse",
    "R2Score": "r2",
    "MeanPrediction": "mean_prediction",
    "MeanLabel": "mean_label",
    "Calibration": "calibration",
}
METRIC_NAMES = {
    "binary_accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "auc_precision_recall": "pr_auc",
    "f1_score": "f1",
    "binary_crossentropy": "log_loss",
    "sparse_categorical_crossentropy": "log_loss",
    "categorical_crossentropy": "log_loss",
    "mean_absolute_error": "mae",
    "root_mean_squared_error": "rmse",
    "r2_score": "r2",
}
# Always in the report (the confusion matrix and calibration table): accepted, nothing to add.
PLOTS = ("ConfusionMatrixPlot", "MultiClassConfusionMatrixPlot", "CalibrationPlot")

# TFMA's fields per message (config.proto), to tell "a TFMA field tfpipe does not support" from a
# typo.
TFMA_FIELDS = {
    "EvalConfig": ["model_specs", "slicing_specs", "cross_slicing_specs", "metrics_specs",
                   "options"],
    "ModelSpec": ["name", "model_type", "signature_name", "preprocessing_function_names",
                  "label_key", "label_keys", "prediction_key", "prediction_keys",
                  "example_weight_key", "example_weight_keys", "is_baseline", "padding_options"],
    "SlicingSpec": ["feature_keys", "feature_values", "slice_keys_sql"],
    "MetricsSpec": ["metrics", "model_names", "output_names", "output_weights", "binarize",
                    "aggregate", "query_key", "thresholds", "per_slice_thresholds",
                    "cross_slice_thresholds"],
    "MetricConfig": ["class_name", "module", "config", "threshold", "per_slice_thresholds",
                     "cross_slice_thresholds"],
    "MetricThreshold": ["value_threshold", "change_threshold"],
    "GenericValueThreshold": ["lower_bound", "upper_bound"],
    "GenericChangeThreshold": ["absolute", "relative", "direction"],
}  # fmt: skip

# The subset tfpipe reads: (message, [(field, number, type, label, type name)]).
_STRING, _BOOL, _MESSAGE, _ENUM = 9, 8, 11, 14
_OPTIONAL, _REPEATED = 1, 3
_SUBSET = [
    ("GenericValueThreshold", [("lower_bound", 1, _MESSAGE, _OPTIONAL, DOUBLE),
                               ("upper_bound", 2, _MESSAGE, _OPTIONAL, DOUBLE)]),
    ("GenericChangeThreshold", [("absolute", 1, _MESSAGE, _OPTIONAL, DOUBLE),
                                ("direction", 3, _ENUM, _OPTIONAL, "MetricDirection")]),
    ("MetricThreshold", [("value_threshold", 1, _MESSAGE, _OPTIONAL, "GenericValueThreshold"),
                         ("change_threshold", 2, _MESSAGE, _OPTIONAL, "GenericChangeThreshold")]),
    ("MetricConfig", [("class_name", 1, _STRING, _OPTIONAL, ""),
                      ("config", 3, _STRING, _OPTIONAL, ""),
                      ("threshold", 4, _MESSAGE, _OPTIONAL, "MetricThreshold")]),
    ("MetricsSpec", [("metrics", 1, _MESSAGE, _REPEATED, "MetricConfig"),
                     ("thresholds", 7, _MESSAGE, _REPEATED, "MetricsSpec.ThresholdsEntry")]),
    ("SlicingSpec", [("feature_keys", 1, _STRING, _REPEATED, "")]),
    ("ModelSpec", [("name", 2, _STRING, _OPTIONAL, ""),
                   ("signature_name", 3, _STRING, _OPTIONAL, ""),
                   ("label_key", 5, _STRING, _OPTIONAL, ""),
                   ("prediction_key", 7, _STRING, _OPTIONAL, ""),
                   ("preprocessing_function_names", 13, _STRING, _REPEATED, "")]),
    ("EvalConfig", [("model_specs", 2, _MESSAGE, _REPEATED, "ModelSpec"),
                    ("slicing_specs", 4, _MESSAGE, _REPEATED, "SlicingSpec"),
                    ("metrics_specs", 5, _MESSAGE, _REPEATED, "MetricsSpec")]),
]  # fmt: skip
DIRECTIONS = {0: "UNKNOWN", 1: "LOWER_IS_BETTER", 2: "HIGHER_IS_BETTER"}


class EvalConfigError(ValueError):
    """An EvalConfig tfpipe cannot read or does not support (a ValueError: pydantic names the
    parameter)."""


@functools.cache
def _eval_config_class() -> Any:
    """The message class of the EvalConfig subset, in a private descriptor pool (TFMA's own
    package name, so messages read as TFMA's; a real TFMA in the same process is unaffected)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    proto = descriptor_pb2.FileDescriptorProto(
        name="tfpipe/tfma_eval_config_subset.proto",
        package=PACKAGE,
        syntax="proto3",
        dependency=[wrappers.name],
    )
    enum = proto.enum_type.add(name="MetricDirection")
    for number, name in DIRECTIONS.items():
        enum.value.add(name=name, number=number)
    for message_name, fields in _SUBSET:
        message = proto.message_type.add(name=message_name)
        for name, number, kind, label, type_name in fields:
            field = message.field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = (
                    type_name if type_name.startswith(".") else f".{PACKAGE}.{type_name}"
                )
        if message_name == "MetricsSpec":  # map<string, MetricThreshold> thresholds
            entry = message.nested_type.add(name="ThresholdsEntry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_STRING, label=_OPTIONAL)
            entry.field.add(
                name="value",
                number=2,
                type=_MESSAGE,
                label=_OPTIONAL,
                type_name=f".{PACKAGE}.MetricThreshold",
            )
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.EvalConfig"))


def parse_eval_config(config: dict[str, Any] | str) -> Any:
    """An EvalConfig message from a dict or TFMA text format; unknown or unsupported fields are
    refused, naming them."""
    from google.protobuf import json_format, text_format

    message = _eval_config_class()()
    try:
        if isinstance(config, str):
            text_format.Parse(config, message)
        else:
            json_format.ParseDict(_unwrap_values(config, message.DESCRIPTOR), message)
    except (text_format.ParseError, json_format.ParseError) as exc:
        raise EvalConfigError(_explain(str(exc))) from None
    return message


def _unwrap_values(value: Any, descriptor: Any) -> Any:
    """``{"value": x}`` → ``x`` for wrapper fields (``lower_bound={"value": 0.6}``, as TFX's
    examples write it in Python); JSON's mapping wants the bare number."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        sub = field.message_type if field is not None else None
        if sub is not None and sub.full_name == DOUBLE[1:]:
            out[key] = item["value"] if isinstance(item, dict) and set(item) == {"value"} else item
        elif sub is not None and sub.GetOptions().map_entry:
            inner = sub.fields_by_name["value"].message_type
            out[key] = {k: _unwrap_values(v, inner) for k, v in (item or {}).items()}
        elif sub is not None and isinstance(item, list):
            out[key] = [_unwrap_values(v, sub) for v in item]
        elif sub is not None:
            out[key] = _unwrap_values(item, sub)
        else:
            out[key] = item
    return out


def _explain(error: str) -> str:
    found = re.search(r'"tensorflow_model_analysis\.([\w.]+)" has no field named "(\w+)"', error)
    if not found:
        return f"eval_config: {error}"
    message, field = found.groups()
    at = re.search(r'at "([^"]+)"', error) or re.match(r"\s*(\d+:\d+)", error)
    supported = dict(_SUBSET).get(message, [])
    what = (
        "a TFMA field tfpipe does not support"
        if field in TFMA_FIELDS.get(message, [])
        else f"not a field of TFMA's {message}"
    )
    return (
        f"eval_config: '{field}' in {message}{f' (at {at.group(1)})' if at else ''} is {what}; "
        "tfpipe reads there: "
        f"{[f[0] for f in supported]} (see the README's 'Coming from TFX')"
    )


def eval_config_params(
    config: dict[str, Any] | str, lower_is_better: tuple[str, ...]
) -> dict[str, Any]:
    """The Evaluator parameters an EvalConfig sets (label, prediction_key, signature_name,
    preprocessing_function_names, slice_by, thresholds, change_thresholds); ``lower_is_better``:
    the tfpipe metrics whose change is gated downwards."""
    message = parse_eval_config(config)
    params: dict[str, Any] = {}
    specs = list(message.model_specs)
    if len(specs) > 1:
        raise EvalConfigError(
            f"eval_config: {len(specs)} model_specs; tfpipe evaluates one candidate (its baseline "
            "is the model served now: evaluator.baseline_model_dir); give one model_spec"
        )
    if specs:
        spec = specs[0]
        for field, param in (
            ("label_key", "label"),
            ("prediction_key", "prediction_key"),
            ("signature_name", "signature_name"),
        ):
            if getattr(spec, field):
                params[param] = getattr(spec, field)
        if spec.preprocessing_function_names:
            params["preprocessing_function_names"] = list(spec.preprocessing_function_names)
    slices = []
    for i, slicing in enumerate(message.slicing_specs):
        keys = list(slicing.feature_keys)
        if len(keys) > 1:
            raise EvalConfigError(
                f"eval_config: slicing_specs[{i}] crosses {keys}; tfpipe slices by one column per "
                f"spec: give one slicing_spec per column"
            )
        slices += [k for k in keys if k not in slices]
    if slices:
        params["slice_by"] = slices
    thresholds: dict[str, dict[str, float]] = {}
    changes: dict[str, dict[str, float]] = {}
    for i, metrics in enumerate(message.metrics_specs):
        for j, metric in enumerate(metrics.metrics):
            where = f"metrics_specs[{i}].metrics[{j}]"
            name = _metric_for_class(metric.class_name, metric.config, where)
            if metric.HasField("threshold"):
                if name is None:
                    raise EvalConfigError(
                        f"eval_config: {where} sets a threshold on {metric.class_name}, a plot"
                    )
                _add_threshold(name, metric.threshold, where, lower_is_better, thresholds, changes)
        for key in sorted(metrics.thresholds):
            where = f"metrics_specs[{i}].thresholds['{key}']"
            name = METRIC_NAMES.get(key, key)
            if name not in set(CLASS_NAMES.values()):
                raise EvalConfigError(
                    f"eval_config: {where}: no metric named '{key}' here; known: "
                    f"{sorted(set(METRIC_NAMES) | set(CLASS_NAMES.values()))}"
                )
            _add_threshold(
                name, metrics.thresholds[key], where, lower_is_better, thresholds, changes
            )
    if thresholds:
        params["thresholds"] = thresholds
    if changes:
        params["change_thresholds"] = changes
    return params


def _metric_for_class(class_name: str, config: str, where: str) -> str | None:
    """The tfpipe metric a metric class computes (None: a plot, always in the report)."""
    if not class_name:
        raise EvalConfigError(f"eval_config: {where} has no class_name")
    if class_name in PLOTS:
        return None
    if class_name not in CLASS_NAMES:
        raise EvalConfigError(
            f"eval_config: {where}: metric class '{class_name}' is not one tfpipe computes; "
            f"known: {sorted(CLASS_NAMES)} (and the plots {list(PLOTS)})"
        )
    name = CLASS_NAMES[class_name]
    if config.strip():
        text = config.strip()
        try:
            settings = json.loads(text if text.startswith("{") else "{" + text + "}")
        except json.JSONDecodeError as exc:
            raise EvalConfigError(f"eval_config: {where}: config is not JSON ({exc})") from None
        settings.pop("name", None)
        curve = settings.pop("curve", None)
        if class_name == "AUC" and curve in ("ROC", "PR"):
            name = "pr_auc" if curve == "PR" else "auc"
        elif curve is not None:
            settings["curve"] = curve
        if settings:
            raise EvalConfigError(
                f"eval_config: {where}: config {sorted(settings)} of {class_name} is not "
                "supported (tfpipe reads AUC's curve only; the decision threshold of a binary "
                "classifier is evaluator.threshold)"
            )
    return name


def _add_threshold(
    name: str,
    threshold: Any,
    where: str,
    lower_is_better: tuple[str, ...],
    thresholds: dict[str, dict[str, float]],
    changes: dict[str, dict[str, float]],
) -> None:
    if threshold.HasField("value_threshold"):
        value = threshold.value_threshold
        bound = {
            side: getattr(value, f"{side}_bound").value
            for side in ("lower", "upper")
            if value.HasField(f"{side}_bound")
        }
        if not bound:
            raise EvalConfigError(f"eval_config: {where}: value_threshold sets no bound")
        _set_once(thresholds, name, bound, where)
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        if not change.HasField("absolute"):
            raise EvalConfigError(f"eval_config: {where}: change_threshold needs 'absolute'")
        lower_better = name in lower_is_better
        expected = "LOWER_IS_BETTER" if lower_better else "HIGHER_IS_BETTER"
        if DIRECTIONS[change.direction] != expected:
            raise EvalConfigError(
                f"eval_config: {where}: change_threshold direction "
                f"{DIRECTIONS[change.direction]}; {name} is "
                f"{'lower' if lower_better else 'higher'} is better, and tfpipe's change gates "
                f"bound how much worse the candidate may be: use direction {expected}"
            )
        allowed = change.absolute.value if lower_better else -change.absolute.value
        if allowed < 0:
            raise EvalConfigError(
                f"eval_config: {where}: change_threshold absolute {change.absolute.value} "
                f"requires an improvement of {-allowed:g}; tfpipe's change gates bound how much "
                f"worse the candidate may be ({'positive' if lower_better else 'negative'} or "
                "zero absolute values)"
            )
        _set_once(changes, name, {"max_worsening": allowed}, where)


def _set_once(target: dict[str, Any], name: str, value: dict[str, float], where: str) -> None:
    if name in target and target[name] != value:
        raise EvalConfigError(
            f"eval_config: {where} sets {name} to {value}, and an earlier entry set "
            f"{target[name]}; keep one"
        )
    target[name] = value
