"""Reusable pipeline components. Importing this package imports no TensorFlow.

Each component is a package ``components/<name>/`` with its parameter schema (``params.py``), its
spec (``__init__.py``) and its entry point (``run.py``, imported only when the component runs).
"""

from __future__ import annotations

import importlib

from components.core.errors import ParameterError
from components.core.spec import ComponentSpec

COMPONENT_NAMES = ("example_gen", "transform", "trainer", "evaluator", "pusher")


def get_spec(name: str) -> ComponentSpec:
    if name not in COMPONENT_NAMES:
        raise ParameterError(
            f"unknown component '{name}'; known components: {', '.join(COMPONENT_NAMES)}"
        )
    return importlib.import_module(f"components.{name}").SPEC
