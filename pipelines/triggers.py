"""What a run may be started with, checked the same way wherever it comes from: the UI's trigger
form, REST ``conf``, or the ``extra`` of the asset events that started it.

Unknown keys are refused (naming the known ones and the nearest match), values are checked against
each run parameter's JSON schema, and paths must lie under the configured data roots
(``$TFPIPE_DATA_ROOTS``, default ``$TFPIPE_HOME/data`` plus where the pipeline's own default data
lives), so a trigger cannot point a pipeline at any file the workers can read. Several asset events
starting one run are merged: their files are all used (deduplicated), and any other setting they
disagree on is refused.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from typing import Any

from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline

PATH_PARAMS = ("data",)
# Keys Airflow itself adds to asset events (e.g. an event posted through the REST API).
AIRFLOW_EXTRA_KEYS = ("from_rest_api", "from_trigger")


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


def data_roots(pipeline: Pipeline, home: str) -> list[str]:
    configured = os.environ.get("TFPIPE_DATA_ROOTS")
    if configured:
        return split_roots(configured)
    roots = [os.path.join(home, "data")]
    for rp in pipeline.run_params:
        if rp.name in PATH_PARAMS:
            default = pipeline.run_param_default(rp)
            if isinstance(default, str) and default:
                roots.append(os.path.dirname(os.path.realpath(default)))
    return [os.path.realpath(r) for r in roots]


def check_values(pipeline: Pipeline, home: str, values: dict[str, Any], source: str) -> list[str]:
    """Problems with ``values`` (run parameter name → value) from ``source``; [] if none."""
    import jsonschema

    known = {rp.name: rp for rp in pipeline.run_params}
    problems = []
    for key, value in values.items():
        if key not in known:
            if key in pipeline.ignored_trigger_keys:
                continue
            near = difflib.get_close_matches(key, list(known), n=1)
            problems.append(
                f"{source} has an unknown key '{key}'"
                + (f" (did you mean '{near[0]}'?)" if near else "")
                + f"; known: {', '.join(sorted(known))}"
            )
            continue
        rp = known[key]
        schema = dict(rp.schema)
        if value is None:
            # The trigger form sends every field, an empty optional one as null: unset, so the
            # pipeline's own value applies (e.g. its default data).
            default = pipeline.run_param_default(rp)
            if rp.optional or default is None:
                continue
            problems.append(
                f"{source}: '{key}' is empty; give a value or leave the default {default!r}"
            )
            continue
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as err:
            problems.append(f"{source}: '{key}' {err.message}")
            continue
        if key in PATH_PARAMS and isinstance(value, str | list):
            problems += _outside_roots(key, value, data_roots(pipeline, home), source)
    return problems


def _outside_roots(key: str, value: str | list[str], roots: list[str], source: str) -> list[str]:
    paths = [value] if isinstance(value, str) else list(value)
    bad = []
    for path in paths:
        text = str(path)
        if text.startswith("s3://"):  # a bucket prefix: no "..", inside an s3 root
            real = text if "/../" not in text + "/" and "/./" not in text + "/" else ""
            inside = any(real.startswith(r + "/") for r in roots if r.startswith("s3://"))
        else:
            real = os.path.realpath(os.path.expanduser(text))
            inside = any(real == r or real.startswith(r + os.sep) for r in roots)
        if not inside:
            bad.append(
                f"{source}: '{key}' {path!r} is outside the data roots {roots} "
                "(set TFPIPE_DATA_ROOTS on the workers to allow another place)"
            )
    return bad


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
