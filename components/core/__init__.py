"""Shared machinery of the components: artifacts, fingerprints, specs, execution.

On TensorFlow ≥ 2.16, ``tf.keras`` is Keras 3, which tf.Transform 1.21 and multi-worker training do
not support; the Keras-2 API comes from the ``tf_keras`` package when ``TF_USE_LEGACY_KERAS=1``.
TensorFlow reads that switch when first imported, so it is set here, before any component can
import TensorFlow, and only where tf_keras is installed (the estimator runtime's TF 2.15 has Keras 2
built in and would fail looking for tf_keras).
"""

import importlib.util
import os

# What the caller's environment said, so processes started for another runtime get that, not ours.
INHERITED_ENV = {k: os.environ.get(k) for k in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL")}

if importlib.util.find_spec("tf_keras") is not None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
