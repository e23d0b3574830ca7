"""tf.Transform helpers for ``preprocessing_fn`` (public API; imports TensorFlow when used)."""

from tfpipe.components.transform.helpers import (
    fill_missing,
    fill_missing_with_mean,
    scale_to_z_score_filled,
)

__all__ = ["fill_missing", "fill_missing_with_mean", "scale_to_z_score_filled"]
