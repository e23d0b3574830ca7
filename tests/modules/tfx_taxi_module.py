"""A TFX user module for taxi trips (did the rider tip more than 20 %?), written the way TFX's
Chicago-taxi Keras example writes one: ``preprocessing_fn`` derives the label ``tips_xf`` from two
raw columns; ``run_fn(fn_args)`` reads its datasets through ``fn_args.data_accessor``, builds the
model under a ``MirroredStrategy`` scope, logs to ``fn_args.model_run_dir``, warm-starts from
``fn_args.base_model`` when it is given, and saves a ``serving_default`` (raw tf.Examples through
``tft_layer``, returning ``{"outputs": sigmoid}``) and a ``transform_features`` signature.

The only difference from a module for TFX: ``tfx`` imports read ``tfpipe.tfx``.
"""

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.tfxio import dataset_options

from tfpipe.tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs

_DENSE_FLOAT_FEATURE_KEYS = ["trip_miles", "fare", "trip_seconds"]
_VOCAB_FEATURE_KEYS = ["payment_type", "company"]
_VOCAB_SIZE = 100
_OOV_SIZE = 5
_BUCKET_FEATURE_KEYS = ["pickup_latitude", "pickup_longitude"]
_FEATURE_BUCKET_COUNT = 5
_CATEGORICAL_FEATURE_KEYS = {"trip_start_hour": 24}
_LABEL_KEY = "tips"
_FARE_KEY = "fare"
_BATCH_SIZE = 40


def _transformed_name(key: str) -> str:
    return key + "_xf"


def _fill_in_missing(x):
    """A dense [batch] tensor from an optional (sparse) raw feature: '' or 0 where absent."""
    if not isinstance(x, tf.SparseTensor):
        return x
    default_value = "" if x.dtype == tf.string else 0
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value
    )
    return tf.squeeze(dense, axis=1)


def preprocessing_fn(inputs):
    outputs = {}
    for key in _DENSE_FLOAT_FEATURE_KEYS:
        outputs[_transformed_name(key)] = tft.scale_to_z_score(
            tf.cast(_fill_in_missing(inputs[key]), tf.float32)
        )
    for key in _VOCAB_FEATURE_KEYS:
        outputs[_transformed_name(key)] = tft.compute_and_apply_vocabulary(
            _fill_in_missing(inputs[key]), top_k=_VOCAB_SIZE, num_oov_buckets=_OOV_SIZE
        )
    for key in _BUCKET_FEATURE_KEYS:
        outputs[_transformed_name(key)] = tft.bucketize(
            _fill_in_missing(inputs[key]), _FEATURE_BUCKET_COUNT
        )
    for key in _CATEGORICAL_FEATURE_KEYS:
        outputs[_transformed_name(key)] = _fill_in_missing(inputs[key])
    # Did the rider tip more than 20 % of the fare?
    fare = tf.cast(_fill_in_missing(inputs[_FARE_KEY]), tf.float32)
    tips = tf.cast(_fill_in_missing(inputs[_LABEL_KEY]), tf.float32)
    outputs[_transformed_name(_LABEL_KEY)] = tf.cast(tips > 0.2 * fare, tf.int64)
    return outputs


def _input_fn(
    file_pattern: list[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int = _BATCH_SIZE,
) -> tf.data.Dataset:
    return data_accessor.tf_dataset_factory(
        file_pattern,
        dataset_options.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=_transformed_name(_LABEL_KEY)
        ),
        tf_transform_output.transformed_metadata.schema,
    ).repeat()


def _build_keras_model(hidden_units: list[int]) -> tf.keras.Model:
    keras = tf.keras
    deep = {
        _transformed_name(k): keras.layers.Input(shape=(1,), name=_transformed_name(k))
        for k in _DENSE_FLOAT_FEATURE_KEYS
    }
    sizes = {k: _VOCAB_SIZE + _OOV_SIZE for k in _VOCAB_FEATURE_KEYS}
    sizes.update({k: _FEATURE_BUCKET_COUNT for k in _BUCKET_FEATURE_KEYS})
    sizes.update(_CATEGORICAL_FEATURE_KEYS)
    wide = {
        _transformed_name(k): keras.layers.Input(
            shape=(1,), name=_transformed_name(k), dtype="int64"
        )
        for k in sizes
    }
    x = keras.layers.concatenate(list(deep.values()))
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    one_hot = [
        keras.layers.CategoryEncoding(num_tokens=sizes[k], output_mode="one_hot")(
            wide[_transformed_name(k)]
        )
        for k in sizes
    ]
    x = keras.layers.concatenate([x, *one_hot])
    output = keras.layers.Dense(1, activation="sigmoid", name="tipped")(x)
    model = keras.Model(inputs={**deep, **wide}, outputs=output)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    return model


def _get_serve_tf_examples_fn(model, tf_transform_output):
    model.tft_layer_inference = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_tf_examples):
        raw_feature_spec = tf_transform_output.raw_feature_spec()
        raw_feature_spec.pop(_LABEL_KEY)  # not sent at serving time
        raw_features = tf.io.parse_example(serialized_tf_examples, raw_feature_spec)
        transformed_features = model.tft_layer_inference(raw_features)
        return {"outputs": model(transformed_features)}

    return serve_tf_examples_fn


def _get_transform_features_fn(model, tf_transform_output):
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_tf_examples):
        raw_features = tf.io.parse_example(
            serialized_tf_examples, tf_transform_output.raw_feature_spec()
        )
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def run_fn(fn_args: FnArgs):
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_dataset = _input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output)
    eval_dataset = _input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output)
    hparams = fn_args.hyperparameters or {}

    mirrored_strategy = tf.distribute.MirroredStrategy()
    with mirrored_strategy.scope():
        model = _build_keras_model(hparams.get("hidden_units", [16, 8]))
    if fn_args.base_model:  # warm start: the weights of the model served now, by name
        served = {v.name: v for v in tf.saved_model.load(fn_args.base_model).variables}
        for weight in model.weights:
            if weight.name in served:
                weight.assign(served[weight.name])

    tensorboard_callback = tf.keras.callbacks.TensorBoard(
        log_dir=fn_args.model_run_dir, update_freq="epoch"
    )
    model.fit(
        train_dataset,
        steps_per_epoch=fn_args.train_steps,
        validation_data=eval_dataset,
        validation_steps=fn_args.eval_steps,
        callbacks=[tensorboard_callback],
        verbose=0,
    )
    signatures = {
        "serving_default": _get_serve_tf_examples_fn(model, tf_transform_output),
        "transform_features": _get_transform_features_fn(model, tf_transform_output),
    }
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)
