"""A step's report section rendered while the next steps run, not after the run.

Why: the report's figures (column histograms, confusion matrices, training curves) and the
plotting library's import cost about 2 s, which a local run used to pay after its last step, on
the user's wall clock. The local runner waits on a worker process for most of a run, so each
committed step's section is rendered in one background thread as soon as the step is over, and
the final page only assembles what is done (plus the DAG figure, which needs every step).

One thread renders, and the final page waits for it before drawing anything itself: matplotlib's
pyplot is used by one thread at a time. A section that fails here is rendered again at the end,
where its error is recorded the way it always was.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.artifacts import is_committed, open_artifact


def has_section(step: dict[str, Any]) -> bool:
    """Whether ``step`` (a step record) gets a section: it produced a committed artifact."""
    uri = step.get("uri", "")
    return step.get("status") in ("executed", "cached") and bool(uri) and is_committed(uri)


def render_section(step: dict[str, Any]) -> Any:
    """The section of one step record ('' when its component has none)."""
    return get_spec(step["component"]).render_report(open_artifact(step["uri"]), step)


def _key(step: dict[str, Any]) -> str:
    return json.dumps(step, sort_keys=True, default=str)


class SectionsAhead:
    """Renders sections in the background as steps finish; :meth:`take` hands back the section
    of a step record rendered from the very same record, else None (render it now)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-ahead")
        self._done: dict[str, Future[Any]] = {}

    def submit(self, step: dict[str, Any]) -> None:
        if has_section(step):
            self._done[_key(step)] = self._pool.submit(render_section, step)

    def take(self, step: dict[str, Any]) -> Any | None:
        future = self._done.get(_key(step))
        if future is None or future.exception() is not None:
            return None
        return future.result()

    def close(self) -> None:
        """Wait for what was submitted (the page is drawn after it) and stop the thread."""
        self._pool.shutdown(wait=True)
