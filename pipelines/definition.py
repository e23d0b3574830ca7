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

    Its JSON schema is the targeted parameter's own (from the component's pydantic schema: type,
    enum, bounds); ``schema`` adds only what this knob narrows (e.g. ``{"maximum": 1_000_000}``).
    ``description`` defaults to the parameter's. ``optional``: the trigger form shows it empty
    (unset means the pipeline's own value, e.g. its default data, whose path is nothing a person
    needs to see).
    """

    name: str
    target: str  # "<step>.<param>[.<key>…]" or "runtime"
    schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Label:
    """What the model learns to predict, said once for the whole pipeline; every step whose
    component takes a label (the trainer's ``label``/``raw_label``/``label_vocabulary``, the
    evaluator's ``label``) takes it from here.

    ``feature``: the ``preprocessing_fn`` output the model trains on. ``column``: the raw column
    it comes from, or None when ``preprocessing_fn`` derives it from several (e.g. ``tips > 0.2 *
    fare``; the evaluator then reads it back through the model's ``transform_features``).
    ``vocabulary``: the ``vocab_filename`` of a string label's vocabulary, so served predictions
    name the classes. ``Label.column_named("species")`` is a raw column that ``preprocessing_fn``
    outputs under its own name."""

    feature: str
    column: str | None = None
    vocabulary: str | None = None

    @classmethod
    def column_named(cls, name: str, vocabulary: str | None = None) -> Label:
        return cls(feature=name, column=name, vocabulary=vocabulary)


@dataclass(frozen=True)
class Scoring:
    """How the pipeline's pushed model scores new data (``tfpipe score``, ``build_scoring_dag``):
    one ``bulk_inferrer`` step on the served model, with ``params`` (passthrough columns, output
    format, ...). ``rescore_on_push``: a newly pushed model re-scores the latest data drop."""

    params: dict[str, Any] = field(default_factory=dict)
    rescore_on_push: bool = False


@dataclass(frozen=True)
class Pipeline:
    """``environment``: names of variables its component processes (and so its user code) get
    beyond the allowlist (see ``components/core/runtime.py``), e.g. ``("WANDB_API_KEY",)``."""

    name: str
    steps: tuple[Step, ...]
    runtime: str = "modern"
    schedule: str | None = None
    description: str = ""
    run_params: tuple[RunParam, ...] = ()
    label: Label | None = None
    environment: tuple[str, ...] = ()
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
        for step in self.steps:
            self.step_params(step)  # a label parameter that disagrees is refused here

    def step_params(self, step: Step) -> dict[str, Any]:
        """The step's parameters, with what it says about the label taken from the pipeline's
        ``label`` (a parameter the step sets must agree with it)."""
        params = dict(step.params)
        component = get_spec(step.component)
        for field_name in component.params.BASELINE_FIELDS:
            if params.get(field_name) is None and component.serving is None:
                served = self._served_model_dir()
                if served is not None:
                    params[field_name] = served
        if self.label is None:
            return params
        for field_name, part in component.params.LABEL_FIELDS.items():
            value = getattr(self.label, part)
            if value is None:
                continue
            given = params.get(field_name)
            if given is not None and given != value:
                raise ParameterError(
                    f"step '{step.name}': {step.name}.{field_name} {given!r} disagrees with the "
                    f"pipeline's label ({part} {value!r}); remove it from the step (the "
                    "pipeline's label is enough) or make the two agree"
                )
            params[field_name] = value
        return params

    def step_runtime(self, step: Step) -> str:
        return step.runtime or self.runtime

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise ParameterError(
            f"pipeline '{self.name}' has no step '{name}'; steps: {[s.name for s in self.steps]}"
        )

    def ancestors(self, name: str) -> set[str]:
        """Every step ``name`` depends on, directly or not."""
        found: set[str] = set()
        pending = list(self.step(name).upstream)
        while pending:
            upstream = pending.pop()
            if upstream not in found:
                found.add(upstream)
                pending += self.step(upstream).upstream
        return found

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

    def data_location(self) -> Any:
        """Where the pipeline's source step reads its data (a path, glob or list), or None."""
        for step in self.steps:
            param = get_spec(step.component).data_param
            if param and not step.upstream:
                return self.step_params(step).get(param)
        return None

    def _served_model_dir(self) -> str | None:
        try:
            return str(self.serving_directory().model_dir)
        except ParameterError:
            return None  # no step publishes models: nothing to compare with

    def serving_directory(self) -> Any:
        """The serving directory this pipeline publishes to (its publishing step's), or a
        ParameterError when no step publishes models."""
        for step in self.steps:
            spec = get_spec(step.component)
            if spec.serving is not None:
                params = spec.validate_params(
                    self.step_params(step), step.name, self.step_runtime(step)
                )
                return spec.serving(params)
        raise ParameterError(f"pipeline '{self.name}' has no step that publishes models")

    def run_param_schema(self, param: RunParam) -> dict[str, Any]:
        """The JSON schema of the parameter ``param`` targets, narrowed by ``param.schema``."""
        if param.target == "runtime":
            from tfpipe.components.core.runtime import RUNTIMES

            derived: dict[str, Any] = {"type": "string", "enum": list(RUNTIMES)}
        else:
            step_name, _, path = param.target.partition(".")
            model = get_spec(self.step(step_name).component).params
            derived = field_schema(model.model_json_schema(), path.split("."), param.target)
        return {**derived, **param.schema}

    def run_param_description(self, param: RunParam) -> str:
        return param.description or self.run_param_schema(param).get("description", param.target)

    def run_param_default(self, param: RunParam) -> Any:
        if param.target == "runtime":
            return self.runtime
        step_name, _, path = param.target.partition(".")
        step = self.step(step_name)
        first = path.split(".")[0]
        node: Any = self.step_params(step)
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


def field_schema(schema: dict[str, Any], path: list[str], target: str) -> dict[str, Any]:
    """The JSON schema at ``path`` (a field, then keys into mappings or sub-models) of a pydantic
    model's schema, ``$ref``s resolved and ``X | None`` read as ``X`` (unset is the default)."""
    defs = schema.get("$defs", {})
    node: dict[str, Any] = schema
    for part in path:
        node = _flatten(node, defs)
        if part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            raise ParameterError(f"run parameter target '{target}': no parameter '{part}' there")
    node = _flatten(node, defs)
    return {k: v for k, v in node.items() if k not in ("title", "default")}


def _flatten(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        node = {
            **defs[node["$ref"].rsplit("/", 1)[-1]],
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    options = [_flatten(o, defs) for o in node.get("anyOf", []) if o.get("type") != "null"]
    if not options:
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if len(options) == 1:
        return {**options[0], **rest}
    merged: dict[str, Any] = {"type": []}
    allowed: list[Any] | None = []  # the values, when every option enumerates its own
    for option in options:  # e.g. str | list[str] -> {"type": ["string", "array"], "items": …}
        if option.get("type") not in merged["type"]:
            merged["type"].append(option.get("type"))
        merged.update({k: v for k, v in option.items() if k not in ("type", "const", "enum")})
        values = list(option.get("enum") or ([option["const"]] if "const" in option else []))
        if not values and option.get("type") == "boolean":
            values = [True, False]
        allowed = allowed + values if allowed is not None and values else None
    if allowed:  # e.g. bool | Literal["auto"] -> {"type": ["boolean", "string"], "enum": […]}
        merged["enum"] = allowed
    return {**merged, **rest}


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value``, the value read as JSON when it parses (numbers, lists, true), else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ParameterError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(raw)
    except json.JSONDecodeError:
        return key.strip(), raw
