"""Runtime profiles: which locked environment a component runs in (no TensorFlow imported here)."""

from __future__ import annotations

import functools
import os

from components.core.errors import ParameterError
from components.core.fingerprint import file_digest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = ("modern", "estimator")


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise ParameterError(f"unknown runtime '{name}'; choose one of: {', '.join(RUNTIMES)}")
    return name


def lock_file(name: str) -> str:
    return os.path.join(REPO_ROOT, "infra", "runtimes", f"{check_runtime(name)}.lock")


@functools.cache
def runtime_identity(name: str) -> str:
    """``<name>@<lock digest>``: artifacts made under another lock are not reused."""
    return f"{name}@{file_digest(lock_file(name))[:12]}"


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process in another runtime: this repo importable, our TF switches
    reverted to what the caller had (each runtime's interpreter sets its own)."""
    from components.core import INHERITED_ENV

    env = dict(os.environ)
    for key, value in INHERITED_ENV.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO_ROOT, env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def interpreter(name: str) -> str:
    """The runtime's Python: ``$TFPIPE_PYTHON_<NAME>`` or the venv that ``make setup`` links."""
    override = os.environ.get(f"TFPIPE_PYTHON_{check_runtime(name).upper()}")
    if override:
        return override
    path = os.path.join(REPO_ROOT, ".venvs", name, "bin", "python")
    if not os.path.exists(path):
        raise ParameterError(
            f"runtime '{name}' is not installed (no {path}); run `make setup` "
            f"(or `bash infra/setup_runtime.sh {name}`)"
        )
    return path
