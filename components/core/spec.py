"""The component contract: a pure entry point over (input artifacts, validated parameters).

A component is described by a :class:`ComponentSpec` that lives next to its parameter schema and
imports no TensorFlow; the entry point module (``run.py``) is imported only when the component runs.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic

from components.core.artifacts import Artifact
from components.core.errors import ParameterError


class ComponentParams(pydantic.BaseModel):
    """Base of every parameter schema: unknown keys are errors, values are immutable."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    def external_fingerprints(self, inputs: dict[str, str]) -> dict[str, str]:
        """Digests of what outside the artifact store this run reads (data, user code, a served
        model). ``inputs`` are the fingerprints of the input artifacts."""
        return {}

    def validate_for_runtime(self, runtime: str) -> None:
        """Refuse parameter combinations the runtime cannot run (raise ParameterError)."""


@dataclass
class Context:
    """What an entry point gets: where to write, what it reads, and how to report progress."""

    step: str
    run_id: str
    output_dir: str
    inputs: dict[str, Artifact]
    params: Any
    runtime: str
    scratch_dir: str = ""  # survives a failed attempt (checkpoints to resume from); not an artifact
    progress: Callable[[str], None] = field(default=lambda message: None)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("tfpipe"))


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    artifact_type: str
    params: type[ComponentParams]
    entry_point: str
    inputs: tuple[str, ...] = ()
    description: str = ""

    def validate_params(self, raw: dict[str, Any], step: str, runtime: str) -> ComponentParams:
        try:
            params = self.params.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ParameterError(format_validation_error(exc, step, self)) from None
        params.validate_for_runtime(runtime)
        return params

    def check_inputs(self, given: dict[str, Any], step: str) -> None:
        expected, got = sorted(self.inputs), sorted(given)
        if expected != got:
            raise ParameterError(
                f"step '{step}' ({self.name}) expects inputs {expected}, but got {got}"
            )

    def load_entry_point(self) -> Callable[[Context], dict[str, Any]]:
        module_name, _, attr = self.entry_point.partition(":")
        return getattr(importlib.import_module(module_name), attr)


def format_validation_error(exc: pydantic.ValidationError, step: str, spec: ComponentSpec) -> str:
    lines = [f"invalid parameters for step '{step}' ({spec.name}):"]
    known = ", ".join(sorted(spec.params.model_fields))
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "(parameters)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  - '{name}' is not a parameter of {spec.name}; known: {known}")
        elif err["type"] == "missing":
            lines.append(f"  - '{name}' is required")
        else:
            lines.append(f"  - '{name}': {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)
