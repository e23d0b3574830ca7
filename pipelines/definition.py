"""Declarative pipelines: steps (component + parameters + upstream steps) and a runtime profile.

Defining a pipeline imports no TensorFlow: DAG files and the CLI build these objects at parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.runtime import check_runtime


@dataclass(frozen=True)
class Step:
    """One component invocation: ``inputs`` maps the component's input names to upstream steps;
    ``runtime`` overrides the pipeline's runtime for this step (e.g. an Estimator trainer in a
    pipeline whose other steps run on the modern runtime); ``after`` names steps that must have
    succeeded (and not stopped the run) before this one starts, without feeding it data (e.g.
    Transform after the ExampleValidator)."""

    name: str
    component: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    runtime: str | None = None
    after: tuple[str, ...] = ()

    @property
    def upstream(self) -> list[str]:
        return [*self.inputs.values(), *self.after]


@dataclass(frozen=True)
class RunParam:
    """A per-run knob (UI trigger form, REST conf, ``--set name=…``) that sets one step parameter.

    ``schema`` is a JSON schema fragment (type, enum, minimum, …) that values are validated against.
    ``optional``: the trigger form shows it empty (unset means the pipeline's own value, e.g. its
    default data, whose path is nothing a person needs to see).
    """

    name: str
    target: str  # "<step>.<param>[.<key>…]" or "runtime"
    schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Scoring:
    """How the pipeline's pushed model scores new data (``tfpipe score``, ``build_scoring_dag``):
    one ``bulk_inferrer`` step on the served model, with ``params`` (passthrough columns, output
    format, ...). ``rescore_on_push``: a newly pushed model re-scores the latest data drop."""

    params: dict[str, Any] = field(default_factory=dict)
    rescore_on_push: bool = False


@dataclass(frozen=True)
class Pipeline:
    name: str
    steps: tuple[Step, ...]
    runtime: str = "modern"
    schedule: str | None = None
    description: str = ""
    run_params: tuple[RunParam, ...] = ()
    scoring: Scoring = field(default_factory=Scoring)
    # Trigger keys accepted and ignored: run parameters of another pipeline whose DAG consumes the
    # same assets (a data drop's train_steps is for the training DAG, not the scoring one).
    ignored_trigger_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_runtime(self.runtime)
        for s in self.steps:
            if s.runtime is not None:
                check_runtime(s.runtime)
        names = [s.name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ParameterError(f"pipeline '{self.name}' repeats step name(s) {dupes}")
        for step in self.steps:
            get_spec(step.component).check_inputs(step.inputs, step.name)
            for upstream in step.upstream:
                if upstream not in names:
                    raise ParameterError(
                        f"step '{step.name}' reads from '{upstream}', which is not a step of "
                        f"pipeline '{self.name}' (steps: {names})"
                    )
        self.topological()

    def step_runtime(self, step: Step) -> str:
        return step.runtime or self.runtime

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise ParameterError(
            f"pipeline '{self.name}' has no step '{name}'; steps: {[s.name for s in self.steps]}"
        )

    def topological(self) -> list[Step]:
        """Steps in dependency order (stable: declaration order among ready steps)."""
        done: list[str] = []
        pending = list(self.steps)
        while pending:
            ready = [s for s in pending if all(u in done for u in s.upstream)]
            if not ready:
                raise ParameterError(
                    f"pipeline '{self.name}' has a cycle among {[s.name for s in pending]}"
                )
            for s in ready:
                done.append(s.name)
                pending.remove(s)
        return [self.step(n) for n in done]

    def run_param_default(self, param: RunParam) -> Any:
        if param.target == "runtime":
            return self.runtime
        step_name, _, path = param.target.partition(".")
        step = self.step(step_name)
        first = path.split(".")[0]
        node: Any = dict(step.params)
        if first not in node:  # not set by the pipeline: the component's own default
            field_info = get_spec(step.component).params.model_fields.get(first)
            if field_info is not None and not field_info.is_required():
                node[first] = field_info.get_default(call_default_factory=True)
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def with_overrides(self, overrides: dict[str, Any]) -> Pipeline:
        """Apply ``runtime=…``, run-param names and ``<step>.<param>[.<key>…]=value`` overrides
        (step parameters are validated when the pipeline is planned)."""
        pipeline = self
        aliases = {p.name: p.target for p in self.run_params}
        for key, value in overrides.items():
            key = aliases.get(key, key)
            if key == "runtime":
                pipeline = replace(pipeline, runtime=check_runtime(str(value)))
                continue
            step_name, dot, path = key.partition(".")
            if not dot or not path:
                raise ParameterError(
                    f"cannot apply '{key}': use runtime=…, <step>.runtime=… or "
                    f"<step>.<parameter>=… (steps: {[s.name for s in self.steps]})"
                )
            step = pipeline.step(step_name)
            if path == "runtime":  # a step's runtime, not a component parameter
                runtime = check_runtime(str(value))
                steps = tuple(
                    replace(s, runtime=runtime) if s is step else s for s in pipeline.steps
                )
                pipeline = replace(pipeline, steps=steps)
                continue
            params = json.loads(json.dumps(step.params))
            target, *rest = path.split(".")
            node = params
            for part in [target, *rest][:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ParameterError(f"cannot apply '{key}': '{part}' is not a mapping")
            node[[target, *rest][-1]] = value
            steps = tuple(replace(s, params=params) if s is step else s for s in pipeline.steps)
            pipeline = replace(pipeline, steps=steps)
        return pipeline


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value``, the value read as JSON when it parses (numbers, lists, true), else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ParameterError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw
