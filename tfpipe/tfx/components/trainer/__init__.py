"""``tfx.components.trainer``: ``from tfpipe.tfx.components.trainer import fn_args_utils``."""
