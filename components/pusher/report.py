"""The pusher's report section: what was pushed where, or why not (for a result reused from an
earlier run, what is true now: the version already being served)."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import PushedModel
from tfpipe.components.core.presentation import render, section


def report(artifact: PushedModel, step: dict[str, Any]) -> Any:
    from tfpipe.components.pusher import SPEC

    line = SPEC.describe({**step, "summary": artifact.summary})
    return section("Push", render("<p>{{ line }}</p>", line=line))
