"""``tfx.components.tuner``."""
