"""TFX's module paths, for TFX user modules (public API).

A TFX user module (``preprocessing_fn`` plus ``run_fn(fn_args)``) runs here once each ``tfx``
import is renamed and nothing else changes::

    from tfx import v1 as tfx
    from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
    from tfx.components.tuner.component import TunerFnResult

become::

    from tfpipe.tfx import v1 as tfx
    from tfpipe.tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
    from tfpipe.tfx.components.tuner.component import TunerFnResult

``tfx_bsl`` imports stay as they are (tfx-bsl is in both runtimes). Only what user modules touch is
mirrored: ``FnArgs``, ``DataAccessor`` and ``TunerFnResult``; TFX itself cannot be installed here
(its ml-metadata wheels need a newer glibc). Importing these modules loads no TensorFlow.
"""
