"""The pusher's report section: what was pushed where, or why not."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import PushedModel
from tfpipe.components.core.presentation import esc, section


def report(artifact: PushedModel, step: dict[str, Any]) -> str:
    from tfpipe.components.pusher import summary_line

    return section("Push", f"<p>{esc(summary_line(artifact.summary))}</p>")
