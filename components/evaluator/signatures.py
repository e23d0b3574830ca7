"""How a SavedModel is read for scoring, whoever wrote it (imports TensorFlow).

tfpipe's exports serve ``probabilities`` (``[N, classes]``) or ``predictions``; a TFX module's
``serving_default`` returns whatever it names (``{"outputs": sigmoid}``, or a bare tensor that
TensorFlow calls ``output_0``). :func:`serving_function` turns either into tfpipe's contract: the
output named by ``prediction_key`` (else tfpipe's own, else the only one), a one-unit sigmoid read
as a binary classifier (``[1 - p, p]``), values checked to be probabilities.
:func:`preprocessing_function` is what a transformed label is read through: the model's
preprocessing signature (``transform_features``, or TFMA's ``preprocessing_function_names``), else
the TransformGraph the model was trained with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tfpipe.components.core.errors import InputDataError

TRANSFORM_SIGNATURE = "transform_features"
NATIVE = {"classification": "probabilities", "regression": "predictions"}
TOLERANCE = 1e-4


def serving_function(
    loaded: Any, info: dict[str, Any], signature: str, prediction_key: str | None, where: str
) -> tuple[Callable[..., dict[str, tf.Tensor]], dict[str, Any]]:
    """``(serve, info)``: ``serve(examples=batch)`` returns ``{"probabilities": [N, K]}`` or
    ``{"predictions": [N]}``; ``info`` gains the class names the output's width implies."""
    if signature not in loaded.signatures:
        raise InputDataError(
            f"evaluator: the model {where} has no signature '{signature}' (it has "
            f"{sorted(loaded.signatures)}); set evaluator.signature_name"
        )
    function = loaded.signatures[signature]
    input_name = _single_input(function, signature, where)
    outputs = function.structured_outputs
    task = info["task"]
    native = NATIVE[task]
    if prediction_key in outputs:
        key = prediction_key
    elif native in outputs:
        key = native
    elif prediction_key is None and (info.get("prediction_key") or len(outputs) == 1):
        key = info.get("prediction_key") or next(iter(outputs))
    else:
        named = f"prediction_key '{prediction_key}'" if prediction_key else "no prediction_key"
        raise InputDataError(
            f"evaluator: {named} for the model {where}, whose '{signature}' returns "
            f"{sorted(outputs)}; set evaluator.prediction_key to the output to score"
        )
    shape = outputs[key].shape
    width = shape[-1] if shape.rank and shape.rank > 1 and shape[-1] else 1
    if task == "classification":
        classes = info.get("classes") or [str(i) for i in range(max(2, width))]
        if width > 1 and len(classes) != width:
            raise InputDataError(
                f"evaluator: output '{key}' of the model {where} has {width} columns and the "
                f"model records {len(classes)} classes ({classes})"
            )
        info = {**info, "classes": classes}

    def serve(examples: tf.Tensor) -> dict[str, tf.Tensor]:
        value = function(**{input_name: examples})[key]
        if task == "regression":
            return {native: tf.reshape(tf.cast(value, tf.float32), [-1])}
        return {native: probabilities(value, key, where)}

    return serve, info


def probabilities(value: tf.Tensor, key: str, where: str) -> tf.Tensor:
    """``[N, K]`` class probabilities from a classifier's output: a one-unit (sigmoid) output
    ``p`` becomes ``[1 - p, p]``. Anything outside [0, 1] is not a probability (logits)."""
    value = tf.cast(value, tf.float32)
    if value.shape.rank == 1 or value.shape[-1] == 1:
        positive = tf.reshape(value, [-1])
        value = tf.stack([1.0 - positive, positive], axis=1)
    low, high = float(tf.reduce_min(value)), float(tf.reduce_max(value))
    if low < -TOLERANCE or high > 1 + TOLERANCE:
        raise InputDataError(
            f"evaluator: output '{key}' of the model {where} has values in [{low:.4g}, "
            f"{high:.4g}], not probabilities; end the model with a sigmoid or softmax in "
            "serving_default (logits cannot be scored as probabilities), or, for a regression "
            "model, set trainer.task=regression"
        )
    return value


def preprocessing_function(
    loaded: Any, names: list[str], transform_dir: str, where: str
) -> tuple[Callable[[tf.Tensor], dict[str, tf.Tensor]], list[str]]:
    """``(transform, features)``: ``transform(batch)`` maps serialized raw tf.Examples to the
    transformed features (the label included), and the names it returns."""
    found = next((n for n in names or [TRANSFORM_SIGNATURE] if n in loaded.signatures), None)
    if found is not None:
        function = loaded.signatures[found]
        input_name = _single_input(function, found, where)
        return (
            lambda batch: function(**{input_name: batch}),
            sorted(function.structured_outputs),
        )
    if names:
        raise InputDataError(
            f"evaluator: the model {where} has none of the preprocessing functions {names} "
            f"(its signatures: {sorted(loaded.signatures)}); tfpipe reads preprocessing "
            "functions saved as signatures"
        )
    # e.g. an Estimator export: the same graph, from the model's TransformGraph
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(transform_dir)
    layer, raw_spec = output.transform_features_layer(), output.raw_feature_spec()
    return (
        lambda batch: layer(tf.io.parse_example(batch, raw_spec)),
        sorted(output.transformed_feature_spec()),
    )


def _single_input(function: Any, signature: str, where: str) -> str:
    inputs = function.structured_input_signature[1]
    if len(inputs) != 1:
        raise InputDataError(
            f"evaluator: signature '{signature}' of the model {where} takes {sorted(inputs)}; "
            "tfpipe feeds one tensor of serialized tf.Examples"
        )
    return next(iter(inputs))
