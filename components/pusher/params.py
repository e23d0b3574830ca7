"""Pusher parameters: where the serving directory is, what the model is called, what to keep."""

from __future__ import annotations

from typing import Literal

import pydantic

from tfpipe.components.core.spec import ComponentParams


class PusherParams(ComponentParams):
    serving_base: str = pydantic.Field(
        description="TensorFlow Serving base: versions go to <serving_base>/<model_name>/<version>"
    )
    model_name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]+$")
    keep_last: int = pydantic.Field(default=5, ge=1, description="versions kept after a push")
    validation: Literal["checksum", "load"] = pydantic.Field(
        default="checksum",
        description="how the copy is checked before it becomes visible: checksum (every file "
        "identical to the model the Evaluator loaded and scored; no TensorFlow needed) or load "
        "(load the copy and score raw examples through serving_default)",
    )
    validation_examples: int = pydantic.Field(
        default=20, ge=1, description="raw eval examples the copy scores (validation=load)"
    )
