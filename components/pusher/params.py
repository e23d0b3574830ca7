"""Pusher parameters: where the serving directory is and what the model is called there."""

from __future__ import annotations

import pydantic

from components.core.spec import ComponentParams


class PusherParams(ComponentParams):
    serving_base: str = pydantic.Field(
        description="TensorFlow Serving base: versions go to <serving_base>/<model_name>/<version>"
    )
    model_name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]+$")
