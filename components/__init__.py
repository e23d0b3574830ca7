"""Reusable pipeline components. Importing this package imports no TensorFlow.

Each component is a package ``components/<name>/`` with its parameter schema (``params.py``), its
spec (``__init__.py``) and its entry point (``run.py``, imported only when the component runs),
listed in ``components/registry.py``.
"""

from __future__ import annotations

import importlib

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.registry import COMPONENTS

COMPONENT_NAMES = tuple(COMPONENTS)


def get_spec(name: str) -> ComponentSpec:
    if name not in COMPONENTS:
        raise ParameterError(
            f"unknown component '{name}'; known components: {', '.join(COMPONENTS)}"
        )
    return importlib.import_module(COMPONENTS[name]).SPEC
