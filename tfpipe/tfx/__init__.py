"""TFX module paths for TFX user modules (see tfpipe.tfx.v1)."""
