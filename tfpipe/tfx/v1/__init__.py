"""``tfx.v1``, as user modules use it: ``from tfpipe.tfx import v1 as tfx`` then
``tfx.components.FnArgs``, ``tfx.components.DataAccessor``, ``tfx.components.TunerFnResult``."""

from tfpipe.tfx.v1 import components

__all__ = ["components"]
