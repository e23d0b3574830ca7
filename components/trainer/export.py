"""The serving contract every backend exports: raw serialized tf.Examples in, predictions out.

The transform graph is embedded, so clients send the same raw rows ExampleGen read; missing fields
are allowed because every raw feature is parsed as optional.
"""

from __future__ import annotations

import tensorflow as tf

from components.trainer.data import transform_output
from components.trainer.job import TrainingJob

SIGNATURE = "serving_default"
RAW_SIGNATURE = "serving_raw"


def export_keras(model: tf.keras.Model, job: TrainingJob, export_dir: str) -> None:
    feature_names, task, classes = job.feature_names, job.p.task, job.classes
    raw_label = job.p.raw_label
    output = transform_output(job.transform)
    raw_spec = output.raw_feature_spec()
    model.tft_layer = output.transform_features_layer()
    class_names = tf.constant(classes) if classes else None

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return predict(tf.io.parse_example(serialized, raw_spec))

    # For clients that do not build tf.Examples: one named dense tensor per raw feature.
    named = {k: v for k, v in raw_spec.items() if k != raw_label}
    raw_inputs = [tf.TensorSpec([None], v.dtype, name=k) for k, v in sorted(named.items())]

    @tf.function(input_signature=raw_inputs)
    def serve_raw(*tensors: tf.Tensor) -> dict[str, tf.Tensor]:
        rows = tf.shape(tensors[0], out_type=tf.int64)[0]
        raw = {}
        for name, tensor in zip(sorted(named), tensors, strict=True):
            index = tf.stack([tf.range(rows), tf.zeros([rows], tf.int64)], axis=1)
            raw[name] = tf.SparseTensor(index, tensor, tf.stack([rows, 1]))
        for name, spec in raw_spec.items():
            if name not in raw:
                raw[name] = tf.SparseTensor(
                    tf.zeros([0, 2], tf.int64), tf.zeros([0], spec.dtype), tf.stack([rows, 1])
                )
        return predict(raw)

    def predict(raw: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(raw)
        scores = model({name: transformed[name] for name in feature_names}, training=False)
        if task == "regression":
            return {"predictions": tf.reshape(scores, [-1])}
        class_ids = tf.argmax(scores, axis=1)
        outputs = {"probabilities": scores, "class_ids": class_ids}
        if class_names is not None:
            outputs["classes"] = tf.gather(class_names, class_ids)
        return outputs

    tf.saved_model.save(
        model, export_dir, signatures={SIGNATURE: serve_examples, RAW_SIGNATURE: serve_raw}
    )
