"""The component contract: a pure entry point over (input artifacts, validated parameters).

A component is one package ``components/<name>/``: ``params.py`` (its parameter schema),
``__init__.py`` (its :class:`ComponentSpec`) and ``run.py`` (the entry point, the only place that
imports TensorFlow). The spec also says how the component presents itself, so runners, the CLI,
the report and the Airflow builder iterate over steps without knowing any component by name:

- ``summary_line(summary)``: one human line for the CLI and run listings, and
  ``cached_summary_line``: the line for a result an earlier run produced (this run reused it);
- ``report_section``: ``"module:function"`` returning HTML for the run report (imported lazily:
  it may use matplotlib);
- ``outlet``/``announce``: an Airflow asset the step's task updates, and the event extra for a
  result (``None``: no event for this result).

Parameters are pure data. What a step reads from outside the artifact store (the files a glob
matches, a user module, the served model) is the job of one *resolve hook* per component
(``resolve``: ``"module:function"``, ``(params, inputs, frozen) -> External``), called once when
the step is resolved (see ``tfpipe.components.core.execute.resolve``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pydantic

from tfpipe.components.artifacts.base import Artifact
from tfpipe.components.core.errors import ParameterError


@dataclass(frozen=True)
class External:
    """What a step reads from outside the artifact store: the values it uses (e.g. the exact data
    files a glob matched) and the digests that go into its fingerprint."""

    values: dict[str, Any] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    # False for a process that helps compute the artifact but never commits it (a non-chief task
    # of an external training cluster): it must not take the artifact's lock, which the
    # committing process holds while it waits for its helpers.
    commits: bool = True


class ComponentParams(pydantic.BaseModel):
    """Base of every parameter schema: unknown keys are errors, values are immutable."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    # Parameters that say *where* or *how* to compute, not *what*: left out of the fingerprint
    # (e.g. the Beam runner, or a data path whose content the component's resolve hook
    # digests), so the same bytes computed elsewhere are the same artifact.
    FINGERPRINT_EXEMPT: ClassVar[frozenset[str]] = frozenset()
    # Parameters that name the pipeline's label, by the part they name: "feature" (what
    # preprocessing_fn outputs and the model learns), "column" (the raw column) or "vocabulary"
    # (the tf.Transform vocabulary of its class names). Unset, they take the pipeline's label;
    # set, they must agree with it (see tfpipe.pipelines.definition.Label).
    LABEL_FIELDS: ClassVar[dict[str, str]] = {}
    # Parameters that name raw columns of the data (a str or a list of them): checked against
    # the data's columns as soon as they are known, never after training.
    COLUMN_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Parameters that name the model being served now (a TF Serving model directory): unset, they
    # take the directory the pipeline's own publishing step pushes to, so a pipeline compares
    # each new model with the one it replaces without saying so.
    BASELINE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def named_columns(self) -> dict[str, list[str]]:
        """``{parameter: [raw column, …]}`` for the parameters in ``COLUMN_FIELDS`` that are set."""
        named = {}
        for name in self.COLUMN_FIELDS:
            value = getattr(self, name)
            if value:
                named[name] = [value] if isinstance(value, str) else list(value)
        return named

    def fingerprint_params(self) -> dict[str, Any]:
        dumped = self.model_dump(mode="json")
        return {k: v for k, v in dumped.items() if k not in self.FINGERPRINT_EXEMPT}

    def validate_for_runtime(self, runtime: str) -> None:
        """Refuse parameter combinations the runtime cannot run (raise ParameterError)."""

    def check_upstream(self, upstream: dict[str, tuple[str, dict[str, Any]]]) -> None:
        """Refuse parameters that cannot work with the steps feeding this one (``{input name:
        (component, parameters)}``), e.g. a gate on a metric the upstream model cannot produce.
        Called when the pipeline is planned, before anything runs."""

    def check_ancestors(self, summaries: dict[str, dict[str, Any]]) -> None:
        """Refuse parameters that cannot work with what steps before this one committed
        (``{step: summary}`` of its committed ancestors, direct or not), e.g. an evaluator label
        that is neither a raw column nor a transformed feature. Called at planning and again by
        the runners as ancestors commit, so a run stops before the steps in between spend their
        time."""


@dataclass
class Context:
    """What an entry point gets: its typed output (being written), its inputs, its parameters."""

    step: str
    run_id: str
    output: Any  # the typed Artifact being written (its root is a private staging directory)
    inputs: dict[str, Any]
    params: Any
    runtime: str
    scratch_dir: str = ""  # survives a failed attempt (checkpoints to resume from); not an artifact
    # Call after each checkpoint written into scratch_dir: with an object store it mirrors the
    # scratch there, so that an attempt retried on another host resumes from it.
    checkpointed: Callable[[], None] = field(default=lambda: None)
    # Where the scratch is mirrored ('' for a local store): for processes that checkpoint into
    # scratch_dir on their own (the tasks of a local training cluster) and mirror it themselves.
    scratch_remote: str = ""
    progress: Callable[[str], None] = field(default=lambda message: None)
    external: dict[str, Any] = field(default_factory=dict)  # see ComponentSpec.resolve
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("tfpipe"))
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    @property
    def output_dir(self) -> str:
        return str(self.output.root)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the output is committed (e.g. drop checkpoints: never before)."""
        self._after_commit.append(action)

    def on_commit(self) -> None:
        for action in self._after_commit:
            action()


def default_summary_line(summary: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in summary.items()
        if not isinstance(v, (dict, list))
    )


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    artifact_type: type[Artifact]
    params: type[ComponentParams]
    entry_point: str
    inputs: tuple[str, ...] = ()
    # Inputs a step may wire or leave out (e.g. the Bulk Inferrer's ``model``: this run's model,
    # or, without it, a served version); the parameters say what is needed when.
    optional_inputs: tuple[str, ...] = ()
    description: str = ""
    summary_line: Callable[[dict[str, Any]], str] = default_summary_line
    # What a reused (cached) result says: it was made by an earlier run, so e.g. a push it records
    # is not this run's. None: the same line as an executed result.
    cached_summary_line: Callable[[dict[str, Any]], str] | None = None
    report_section: str | None = None
    outlet: str | None = None
    announce: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    # Does the step import TensorFlow? Runners start the TensorFlow-loading worker early and run
    # steps that do not need it elsewhere meanwhile (the import overlaps them on another core).
    needs_tensorflow: bool = True
    # Is its summary part of the one-paragraph outcome of a run (e.g. an Airflow run's note)?
    in_run_note: bool = False
    # "module:function" (params, input fingerprints, frozen values) -> External: what the step
    # reads from outside the artifact store, digested into its fingerprint. None: nothing.
    resolve: str | None = None
    # The parameter that says where a source step reads its data (ExampleGen's ``input``): where
    # a pipeline's data is, for commands that read the same data (scoring).
    data_param: str | None = None
    # The serving directory a step of this component publishes models to (params -> a
    # ServingDirectory), for commands that act on a pipeline's served model (rollback, scoring).
    serving: Callable[[Any], Any] | None = None
    # Does a step of it train on a TF_CONFIG cluster whose tasks run the step each (only the chief
    # commits)? Then an Airflow DAG may run it as one task per member across hosts.
    trains_on_cluster: bool = False

    def validate_params(self, raw: dict[str, Any], step: str, runtime: str) -> ComponentParams:
        try:
            params = self.params.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ParameterError(format_validation_error(exc, step, self)) from None
        params.validate_for_runtime(runtime)
        return params

    def check_inputs(self, given: dict[str, Any], step: str) -> None:
        expected, got = sorted(self.inputs), sorted(given)
        extra = sorted(set(got) - set(expected))
        if set(expected) - set(got) or set(extra) - set(self.optional_inputs):
            optional = sorted(self.optional_inputs)
            also = f" (optional: {optional})" if optional else ""
            raise ParameterError(
                f"step '{step}' ({self.name}) expects inputs {expected}{also}, but got {got}"
            )

    def resolve_external(
        self,
        params: ComponentParams,
        inputs: dict[str, str],
        frozen: dict[str, Any] | None = None,
    ) -> External:
        """What this step reads from outside the artifact store, resolved and digested.
        ``inputs``: fingerprints of the input artifacts. ``frozen``: values an earlier resolution
        of the same run chose, to be used as they are."""
        if not self.resolve:
            return External()
        return _load(self.resolve)(params, inputs, frozen)

    def load_entry_point(self) -> Callable[[Context], dict[str, Any]]:
        return _load(self.entry_point)

    def describe(self, step: dict[str, Any]) -> str:
        """One line for a step record of this component: its error, or what its result says
        (for a result this run reused, what is true of it now)."""
        if step.get("status") == "failed":
            return str(step.get("error", ""))
        summary = step.get("summary")
        if not summary:
            return ""
        if step.get("status") == "cached" and self.cached_summary_line is not None:
            return self.cached_summary_line(summary)
        return self.summary_line(summary)

    def render_report(self, artifact: Artifact, step: dict[str, Any]) -> Any:
        """This component's section of the run report: a fragment rendered by
        ``presentation.render`` ('' when it has none); a plain string would be escaped."""
        if not self.report_section:
            return ""
        return _load(self.report_section)(artifact, step)


def _load(ref: str) -> Callable[..., Any]:
    module_name, _, attr = ref.partition(":")
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
