"""What a run may be started with, checked the same way wherever it comes from: the UI's trigger
form, REST ``conf``, or the ``extra`` of the asset events that started it.

Unknown keys are refused (naming the known ones and the nearest match), values are checked against
each run parameter's JSON schema, and paths must lie under the configured data roots
(``$TFPIPE_DATA_ROOTS``, default ``$TFPIPE_HOME/data`` plus where the pipeline's own default data
lives), so a trigger cannot point a pipeline at any file the workers can read: the pattern and
every file it matches now, by real path (a symbolic link or ``*/..`` inside a root does not lead
out of it), and again where the step matches and reads the files (:func:`confine` hands the roots
to the step). Several asset events
starting one run are merged: their files are all used (deduplicated), and any other setting they
disagree on is refused.
"""

from __future__ import annotations

import difflib
import glob
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline

PATH_PARAMS = ("data",)
# Keys Airflow itself adds to asset events (e.g. an event posted through the REST API).
AIRFLOW_EXTRA_KEYS = ("from_rest_api", "from_trigger")
# Matches checked when a trigger arrives (bounded work); the step checks every file it matches.
CHECKED_MATCHES = 10_000
# Where the DAG builder puts a pipeline's TriggerCard: ``default_args[CARD_KEY]``.
CARD_KEY = "tfpipe"
CARD_VERSION = 1


def split_roots(configured: str) -> list[str]:
    """``$TFPIPE_DATA_ROOTS``: directories and ``s3://bucket/prefix`` roots separated by
    ``os.pathsep`` (the ``:`` of a URI scheme does not separate)."""
    parts = configured.split(os.pathsep)
    roots: list[str] = []
    for part in parts:
        if roots and roots[-1] == "s3" and part.startswith("//"):
            roots[-1] = f"s3:{part}"
        elif part:
            roots.append(part)
    return [r.rstrip("/") if r.startswith("s3://") else os.path.realpath(r) for r in roots]


@dataclass(frozen=True)
class TriggerCard:
    """What checking a trigger needs to know about a pipeline, as plain JSON: its run parameters
    (name, JSON schema, description, optional, default, whether it names data) and the data its
    steps read by default; the trigger form is made from it too (``dag_params``). The DAG builder
    puts it into the DAG (``default_args["tfpipe"]``, part of the serialized DAG Airflow stores),
    so Airflow's API server checks triggers from it without running the pipeline file: no user
    code runs there. It also marks a DAG as tfpipe's."""

    pipeline: str
    params: tuple[dict[str, Any], ...]
    default_data: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # keys accepted and ignored (another DAG's run parameters)

    @classmethod
    def of(cls, pipeline: Pipeline) -> TriggerCard:
        params, default_data = [], []
        for rp in pipeline.run_params:
            default = pipeline.run_param_default(rp)
            params.append(
                {
                    "name": rp.name,
                    "schema": pipeline.run_param_schema(rp),
                    "description": pipeline.run_param_description(rp),
                    "optional": rp.optional,
                    "default": default,
                    "path": rp.name in PATH_PARAMS,
                }
            )
            if rp.name in PATH_PARAMS and isinstance(default, str) and default:
                default_data.append(_real(default))
        return cls(pipeline.name, tuple(params), tuple(default_data), pipeline.ignored_trigger_keys)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": CARD_VERSION,
            "pipeline": self.pipeline,
            "params": [dict(p) for p in self.params],
            "default_data": list(self.default_data),
            "ignored": list(self.ignored),
        }

    @classmethod
    def from_json(cls, card: Any) -> TriggerCard | None:
        """The card of a DAG's ``default_args["tfpipe"]``; None when there is none (not a tfpipe
        DAG). A card this code cannot read raises: the caller refuses rather than guess."""
        if card is None:
            return None
        if not isinstance(card, dict) or card.get("version") != CARD_VERSION:
            raise ValueError(f"unreadable tfpipe card (version {card.get('version')!r})")
        return cls(
            str(card["pipeline"]),
            tuple(dict(p) for p in card["params"]),
            tuple(str(d) for d in card.get("default_data", ())),
            tuple(str(k) for k in card.get("ignored", ())),
        )

    def data_roots(self, home: str) -> list[str]:
        configured = os.environ.get("TFPIPE_DATA_ROOTS")
        if configured:
            return split_roots(configured)
        roots = [os.path.join(home, "data")]
        roots += [
            d.rsplit("/", 1)[0] if d.startswith("s3://") else os.path.dirname(d)
            for d in self.default_data
        ]
        return [_real(r) for r in roots]

    def check(self, home: str, values: dict[str, Any], source: str) -> list[str]:
        """Problems with ``values`` (run parameter name → value) from ``source``; [] if none."""
        import jsonschema

        known = {p["name"]: p for p in self.params}
        problems = []
        for key, value in values.items():
            if key not in known:
                if key in self.ignored:
                    continue
                near = difflib.get_close_matches(key, list(known), n=1)
                problems.append(
                    f"{source} has an unknown key '{key}'"
                    + (f" (did you mean '{near[0]}'?)" if near else "")
                    + f"; known: {', '.join(sorted(known))}"
                )
                continue
            param = known[key]
            if value is None:
                # The trigger form sends every field, an empty optional one as null: unset, so
                # the pipeline's own value applies (e.g. its default data).
                if param["optional"] or param["default"] is None:
                    continue
                problems.append(
                    f"{source}: '{key}' is empty; give a value or leave the default "
                    f"{param['default']!r}"
                )
                continue
            try:
                jsonschema.validate(value, param["schema"])
            except jsonschema.ValidationError as err:
                problems.append(f"{source}: '{key}' {err.message}")
                continue
            if param["path"] and isinstance(value, str | list):
                problems += _outside_roots(key, value, self.data_roots(home), source)
        return problems


def _real(path: str) -> str:
    return path.rstrip("/") if path.startswith("s3://") else os.path.realpath(path)


def data_roots(pipeline: Pipeline, home: str) -> list[str]:
    return TriggerCard.of(pipeline).data_roots(home)


def check_values(pipeline: Pipeline, home: str, values: dict[str, Any], source: str) -> list[str]:
    """Problems with ``values`` (run parameter name → value) from ``source``; [] if none."""
    return TriggerCard.of(pipeline).check(home, values, source)


def _outside_roots(key: str, value: str | list[str], roots: list[str], source: str) -> list[str]:
    paths = [value] if isinstance(value, str) else list(value)
    bad = []
    for path in paths:
        text = str(path)
        if text.startswith("s3://"):  # a bucket prefix: no "..", inside an s3 root
            real = text if "/../" not in text + "/" and "/./" not in text + "/" else ""
            inside = any(real.startswith(r + "/") for r in roots if r.startswith("s3://"))
        else:
            pattern = os.path.expanduser(text)
            matches = itertools.islice(glob.iglob(pattern), CHECKED_MATCHES)
            inside = all(_inside_local(os.path.realpath(p), roots) for p in [pattern, *matches])
        if not inside:
            bad.append(
                f"{source}: '{key}' {path!r} is outside the data roots {roots} "
                "(set TFPIPE_DATA_ROOTS on the workers to allow another place)"
            )
    return bad


def _inside_local(real: str, roots: list[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def confine(pipeline: Pipeline, home: str, values: dict[str, Any]) -> dict[str, Any]:
    """Overrides that hand the data roots to each step whose data a trigger named, so that the
    step confines what its glob matches and what it reads (``<step>.data_roots``), not only what
    this check saw."""
    known = {rp.name: rp for rp in pipeline.run_params}
    out: dict[str, Any] = {}
    for key in PATH_PARAMS:
        if values.get(key) is None or key not in known:
            continue
        step = pipeline.step(known[key].target.partition(".")[0])
        if "data_roots" in get_spec(step.component).params.model_fields:
            out[f"{step.name}.data_roots"] = data_roots(pipeline, home)
    return out


def merge_event_extras(extras: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """One run's settings from all the asset events that started it: every ``data`` (files of
    every drop, deduplicated, in event order), and the other keys, which must agree."""
    merged: dict[str, Any] = {}
    files: list[str] = []
    problems = []
    for extra in extras:
        for key, value in (extra or {}).items():
            if key in AIRFLOW_EXTRA_KEYS:
                continue
            if key in PATH_PARAMS:
                for item in [value] if isinstance(value, str) else list(value or []):
                    if item not in files:
                        files.append(item)
            elif key in merged and merged[key] != value:
                problems.append(
                    f"the asset events that started this run disagree on '{key}' "
                    f"({merged[key]!r} vs {value!r}); send them as separate drops"
                )
            else:
                merged.setdefault(key, value)
    if files:
        merged["data"] = files[0] if len(files) == 1 else files
    return merged, problems


def refuse(problems: list[str]) -> None:
    if problems:
        raise ParameterError("; ".join(problems))
