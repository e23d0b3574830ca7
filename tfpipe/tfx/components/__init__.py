"""``tfx.components``, as far as user modules reach into it (``trainer``, ``tuner``)."""
