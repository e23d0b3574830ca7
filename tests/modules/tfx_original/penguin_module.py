"""A TFX user module for the Palmer penguins (three species), as written for TFX itself (after
TFX's ``penguin_utils_base.py`` / ``penguin_utils_keras.py``): it imports ``tfx``, which does not
install here. ``tests/test_tfx.py`` renames each ``tfx`` import to ``tfpipe.tfx``, changes nothing
else, and runs the result in a pipeline.

``preprocessing_fn`` z-scores the measurements and maps the species to ids (the label
``species_xf``); ``run_fn`` trains a softmax classifier on ``fn_args.data_accessor``'s datasets
and saves it with Keras' ``model.save``: ``serving_default`` returns the bare probabilities (a
tensor, which TensorFlow names ``output_0``), ``transform_features`` the transformed features.
"""

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx.components.trainer import fn_args_utils
from tfx.components.trainer.fn_args_utils import DataAccessor
from tfx_bsl.public import tfxio

FEATURE_KEYS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
_LABEL_KEY = "species"
TRAIN_BATCH_SIZE = 20
EVAL_BATCH_SIZE = 10


def transformed_name(key):
    return key + "_xf"


def _dense(x):
    if not isinstance(x, tf.SparseTensor):
        return x
    default_value = "" if x.dtype == tf.string else 0
    filled = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value
    )
    return tf.squeeze(filled, axis=1)


def preprocessing_fn(inputs):
    outputs = {}
    for key in FEATURE_KEYS:
        value = tf.cast(_dense(inputs[key]), tf.float32)
        outputs[transformed_name(key)] = tft.scale_to_z_score(value)
    outputs[transformed_name(_LABEL_KEY)] = tft.compute_and_apply_vocabulary(
        _dense(inputs[_LABEL_KEY]), vocab_filename=_LABEL_KEY
    )
    return outputs


def input_fn(
    file_pattern: list[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=transformed_name(_LABEL_KEY)
        ),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def make_serving_signatures(model, tf_transform_output: tft.TFTransformOutput):
    model.tft_layer = tf_transform_output.transform_features_layer()

    @tf.function
    def serve_tf_examples_fn(serialized_tf_examples):
        feature_spec = tf_transform_output.raw_feature_spec()
        feature_spec.pop(_LABEL_KEY)
        parsed_features = tf.io.parse_example(serialized_tf_examples, feature_spec)
        transformed_features = model.tft_layer(parsed_features)
        return model(transformed_features)

    @tf.function
    def transform_features_fn(serialized_tf_examples):
        parsed_features = tf.io.parse_example(
            serialized_tf_examples, tf_transform_output.raw_feature_spec()
        )
        return model.tft_layer(parsed_features)

    examples = tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")
    return {
        "serving_default": serve_tf_examples_fn.get_concrete_function(examples),
        "transform_features": transform_features_fn.get_concrete_function(examples),
    }


def _make_keras_model(learning_rate: float) -> tf.keras.Model:
    inputs = [tf.keras.layers.Input(shape=(1,), name=transformed_name(f)) for f in FEATURE_KEYS]
    d = tf.keras.layers.concatenate(inputs)
    for _ in range(2):
        d = tf.keras.layers.Dense(8, activation="relu")(d)
    outputs = tf.keras.layers.Dense(3, activation="softmax")(d)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


def run_fn(fn_args: tfx.components.FnArgs):
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    accessor: fn_args_utils.DataAccessor = fn_args.data_accessor
    train_dataset = input_fn(fn_args.train_files, accessor, tf_transform_output, TRAIN_BATCH_SIZE)
    eval_dataset = input_fn(fn_args.eval_files, accessor, tf_transform_output, EVAL_BATCH_SIZE)
    hparams = fn_args.hyperparameters or {"learning_rate": 0.02}
    model = _make_keras_model(hparams["learning_rate"])
    model.fit(
        train_dataset,
        steps_per_epoch=fn_args.train_steps,
        validation_data=eval_dataset,
        validation_steps=fn_args.eval_steps,
        verbose=0,
    )
    signatures = make_serving_signatures(model, tf_transform_output)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
