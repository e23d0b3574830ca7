"""Beam's per-transform bookkeeping, done once per DoFn and per options view instead of at every
look: a window's cached analysis builds pipelines of thousands of transforms, where this
bookkeeping, not the data, was most of Transform's time.

Beam asks each ``DoFn`` for its state and timer specs (``userstate.get_dofn_specs``: ``dir()`` of
the DoFn and ``inspect.signature`` of every method) about six times per ``ParDo`` while it builds,
translates and runs a pipeline. tf.Transform's cached analysis of a window plans a dozen ParDos
per analyzer per drop: profiled on 6 drops of taxi data, 12,312 such calls took 14.7 of
Transform's 36 s. A DoFn's specs are fixed by its class's methods, so the answer is kept per DoFn
object for the life of the process (the object is kept with it, so its id cannot be reused).

Beam also builds a fresh options view (``PipelineOptions.view_as``: an argparse parser with every
option Beam knows) about four times per transform: 8,229 views, 6.3 s in the same profile. Views
of one options object share its values (``_all_options``), so one view per (options, class) is
the same view.
"""

from __future__ import annotations

from typing import Any

_installed = False


def memoize_beam_bookkeeping() -> None:
    global _installed
    if _installed:
        return
    from apache_beam.transforms import userstate

    compute = userstate.get_dofn_specs
    seen: dict[int, tuple[Any, Any]] = {}

    def get_dofn_specs(dofn: Any) -> Any:
        hit = seen.get(id(dofn))
        if hit is None or hit[0] is not dofn:
            hit = seen[id(dofn)] = (dofn, compute(dofn))
        return hit[1]

    userstate.get_dofn_specs = get_dofn_specs
    _memoize_views()
    _installed = True


def _memoize_views() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    make_view = PipelineOptions.view_as
    views: dict[tuple[int, type], tuple[Any, Any]] = {}

    def view_as(self: Any, cls: type) -> Any:
        hit = views.get((id(self), cls))
        if hit is None or hit[0] is not self:
            hit = views[(id(self), cls)] = (self, make_view(self, cls))
        return hit[1]

    PipelineOptions.view_as = view_as  # type: ignore[method-assign]
