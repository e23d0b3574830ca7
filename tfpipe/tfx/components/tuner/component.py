"""``TunerFnResult``, so modules that define TFX's ``tuner_fn`` import unchanged.

tfpipe has no Tuner component: ``tuner_fn`` is never called (keras-tuner rejects tf-keras models
when Keras 3 is installed, as on the modern runtime; see the README's "Coming from TFX").
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TunerFnResult(NamedTuple):
    """What TFX's ``tuner_fn`` returns: a keras-tuner tuner and the kwargs of its search."""

    tuner: Any
    fit_kwargs: dict[str, Any]


__all__ = ["TunerFnResult"]
