"""``tfx.v1.components``: the names a user module's functions use (TFX's components themselves
are tfpipe's pipeline steps, declared in a pipeline file)."""

from tfpipe.tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfpipe.tfx.components.tuner.component import TunerFnResult

__all__ = ["DataAccessor", "FnArgs", "TunerFnResult"]
