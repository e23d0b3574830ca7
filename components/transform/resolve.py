"""What Transform reads from outside the store: the user module (and what it imports)."""

from __future__ import annotations

from typing import Any

from tfpipe.components.core.spec import External
from tfpipe.components.core.user_code import module_digest
from tfpipe.components.transform.params import TransformParams


def resolve(
    params: TransformParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    module = module_digest(params.module_file, "transform")
    # The digest is also the analyzer cache's: a changed module misses every entry.
    return External(values={"module_digest": module}, digests={"module_file": module})
