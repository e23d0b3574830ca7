"""The run report: one self-contained HTML page per run (plots embedded, no network needed)."""

from tfpipe.pipelines.report.render import render_report

__all__ = ["render_report"]
