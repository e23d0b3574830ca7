"""Loading functions from the user's module file, with errors that name the file and function."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from components.core.errors import UserCodeError


def load_module(module_file: str) -> Any:
    """Import ``module_file`` under a stable name derived from its path (importable by pickling)."""
    path = os.path.abspath(module_file)
    if not os.path.isfile(path):
        raise UserCodeError(f"module_file '{module_file}' does not exist")
    name = "tfpipe_user_" + hashlib.sha1(path.encode()).hexdigest()[:10]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserCodeError(
            f"importing module_file '{module_file}' raised {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_function(module_file: str, name: str) -> Callable[..., Any]:
    module = load_module(module_file)
    fn = getattr(module, name, None)
    if not callable(fn):
        defined = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise UserCodeError(
            f"module_file '{module_file}' defines no function '{name}'; it defines: {defined}"
        )
    return fn


def guarded(fn: Callable[..., Any], module_file: str, what: str) -> Callable[..., Any]:
    """Wrap a user function so that anything it raises names the function and its file."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserCodeError:
            raise
        except Exception as exc:
            raise UserCodeError(
                f"{what} '{fn.__name__}' in {module_file} raised {type(exc).__name__}: {exc}"
            ) from exc

    call.__name__ = fn.__name__
    return call
