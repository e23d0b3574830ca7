"""What ExampleGen reads from outside the store: the data files (or objects) its input matches,
frozen at planning and identified by content, and the contract file."""

from __future__ import annotations

import os
from typing import Any

from tfpipe.components.core.contract import contract_columns
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.fingerprint import file_digest
from tfpipe.components.core.spec import External
from tfpipe.components.example_gen.date_partitions import (
    check_window,
    is_dated,
    last_whole_day,
    window,
)
from tfpipe.components.example_gen.inputs import (
    check_inside,
    check_unchanged,
    input_digest,
    match_input,
    missing_inputs,
)
from tfpipe.components.example_gen.params import ExampleGenParams


def resolve(
    params: ExampleGenParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """The files (or objects) the glob matches *now*, frozen: the run reads exactly these (a
    file landing after planning waits for the next run), identified by content, with the stamp
    they were hashed at (the run refuses a file that changed since)."""
    if frozen and frozen.get("input_files"):
        files, objects = list(frozen["input_files"]), dict(frozen.get("input_objects") or {})
        if params.data_roots is not None:
            check_inside(files, params.data_roots, "given as input")
    else:
        files, objects = match_input(planned_patterns(params), params.data_roots)
    missing = missing_inputs(files)
    if missing:
        raise InputDataError(f"example_gen: input file(s) {missing} disappeared after planning")
    if frozen and frozen.get("input_stamps") is not None:
        # Resolved again from frozen values: the files must be the ones planned on.
        check_unchanged(files, frozen["input_stamps"])
    identity, stamps = input_digest(files, objects)
    digests = {"input": identity}
    if params.schema_file:
        if not os.path.isfile(params.schema_file):
            raise InputDataError(f"example_gen: schema_file '{params.schema_file}' not found")
        digests["schema_file"] = file_digest(params.schema_file)
    values: dict[str, Any] = {"input_files": files, "input_stamps": stamps}
    if params.schema_file:  # the columns the data must have, known before it is read
        values["contract_columns"] = contract_columns(params.schema_file)
    if objects:
        values["input_objects"] = objects
    return External(values=values, digests=digests)


def planned_patterns(params: ExampleGenParams) -> str | list[str]:
    """The patterns to match: ``input`` as given, or, with a date placeholder, one pattern per
    day of the window ending with the run's data date, each of which must match a file (a missing
    partition fails planning, naming it)."""
    if not is_dated(params.input):
        return params.input
    last = params.data_date or last_whole_day()  # a run that names none: yesterday (UTC)
    win = window(params.input, last, params.window_days)
    check_window(
        win, f"data_date {last}" + ("" if params.data_date else ": yesterday, the run gave none")
    )
    return win.concrete()
