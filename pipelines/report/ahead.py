"""A step's report section rendered while the next steps run, not after the run.

Why: the report's figures (column histograms, confusion matrices, training curves) and the
plotting library's import cost about 2 s, which a run used to pay after its last step, on the
user's wall clock. Most of a run is spent waiting on a component process, so each committed step's
section is rendered in one background thread meanwhile, and the final page only assembles what is
done (plus the DAG figure, which needs every step).

- The local runner renders each step's section as soon as the step is over, in its own process.
- An Airflow step task renders its upstream steps' sections while its own component process runs,
  and keeps them as files in the run's directory (``sections/``), where the report task, if it
  runs on the same worker, finds them; on another worker it renders them itself.

A kept section is used only for the very same step record it was rendered from (its digest is in
the file name). One thread renders, and the page is drawn only after it stopped: matplotlib's
pyplot is used by one thread at a time. A section that failed here is rendered again at the end,
where its error is recorded the way it always was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from markupsafe import Markup

from tfpipe.components import get_spec
from tfpipe.components.artifacts import is_committed, open_artifact

SECTIONS_DIR = "sections"


def has_section(step: dict[str, Any]) -> bool:
    """Whether ``step`` (a step record) gets a section: it produced a committed artifact."""
    uri = step.get("uri", "")
    return step.get("status") in ("executed", "cached") and bool(uri) and is_committed(uri)


def render_section(step: dict[str, Any]) -> Any:
    """The section of one step record ('' when its component has none)."""
    return get_spec(step["component"]).render_report(open_artifact(step["uri"]), step)


def _digest(step: dict[str, Any]) -> str:
    text = json.dumps(step, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SectionsAhead:
    """Renders sections in the background as steps finish; :meth:`take` hands back the section
    of a step record rendered from the very same record, else None (render it now).

    ``keep_dir``: where rendered sections are also kept as files (and looked for)."""

    def __init__(self, keep_dir: str | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-ahead")
        self._done: dict[str, Future[Any]] = {}
        self._keep_dir = keep_dir

    def _kept(self, step: dict[str, Any]) -> str | None:
        if self._keep_dir is None:
            return None
        return os.path.join(self._keep_dir, f"{step['step']}-{_digest(step)}.html")

    def submit(self, step: dict[str, Any]) -> None:
        kept = self._kept(step)
        if has_section(step) and not (kept and os.path.exists(kept)):
            self._done[_digest(step)] = self._pool.submit(self._render, step, kept)

    @staticmethod
    def _render(step: dict[str, Any], kept: str | None) -> Any:
        section = render_section(step)
        if kept:
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            with open(f"{kept}.tmp", "w", encoding="utf-8") as f:
                f.write(str(section))
            os.replace(f"{kept}.tmp", kept)
        return section

    def take(self, step: dict[str, Any]) -> Any | None:
        future = self._done.get(_digest(step))
        if future is not None and future.exception() is None:
            return future.result()
        kept = self._kept(step)
        if kept and os.path.exists(kept):
            with contextlib.suppress(OSError), open(kept, encoding="utf-8") as f:
                # Rendered by render_section above (autoescaped), not by anything else.
                return Markup(f.read())
        return None

    def close(self) -> None:
        """Wait for what was submitted (the page is drawn after it) and stop the thread."""
        self._pool.shutdown(wait=True)
