"""Runtime profiles: the locked environments that steps run in (no TensorFlow imported here).

A *training runtime* (``modern``, ``estimator``) is a locked virtual environment that components
run in; each step of a pipeline names one (the pipeline's default unless the step overrides it).
The *orchestrator* environment (Airflow, the CLI, the report) and the *dev* environment (tests and
tools) are not step runtimes. An artifact's fingerprint includes :func:`runtime_identity` of the
runtime its step ran in: the digest of that runtime's pinned packages, development tools excluded,
so bumping a linter invalidates nothing while bumping TensorFlow re-runs what it could change.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from dataclasses import dataclass, field

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.fingerprint import digest

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Development tools never change what a component computes: left out of runtime identities.
DEV_TOOLS = frozenset({"pytest", "pytest-timeout", "ruff", "mypy", "coverage", "pytest-cov"})
# Environment variables that carry secrets of the orchestrator (database URLs, broker passwords,
# API tokens): component processes and user code never see them.
SECRET_PATTERNS = (
    re.compile(r"^AIRFLOW__(DATABASE|CELERY|API_AUTH|CORE__FERNET|CORE__INTERNAL_API_SECRET)"),
    re.compile(r"^AIRFLOW__.*(SECRET|PASSWORD|CONN|KEY)"),
    re.compile(r"^AIRFLOW_CONN_"),
    re.compile(r"(PASSWORD|PASSWD|^PG(PASSWORD|USER)$)", re.IGNORECASE),
)


@dataclass(frozen=True)
class Runtime:
    name: str
    description: str
    has_estimators: bool
    env: dict[str, str] = field(default_factory=dict)


RUNTIMES = {
    "modern": Runtime(
        "modern",
        "TF 2.21 + tf-keras, tf.Transform 1.21, Beam 2.77",
        has_estimators=False,
        # TF >= 2.16's tf.keras is Keras 3; tf.Transform and multi-worker training need the
        # Keras-2 API, which tf_keras provides when this is set before TensorFlow is imported.
        env={"TF_USE_LEGACY_KERAS": "1"},
    ),
    "estimator": Runtime(
        "estimator",
        "TF 2.15 + tf.estimator, tf.Transform 1.15, Beam 2.61",
        has_estimators=True,
    ),
}
COMMON_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def check_runtime(name: str) -> str:
    if name not in RUNTIMES:
        raise ParameterError(f"unknown runtime '{name}'; choose one of: {', '.join(RUNTIMES)}")
    return name


def locks_dir() -> str:
    """``$TFPIPE_LOCKS``, the source tree's ``infra/runtimes``, or the copy a wheel installs."""
    candidates = [
        os.environ.get("TFPIPE_LOCKS", ""),
        os.path.join(PACKAGE_ROOT, "infra", "runtimes"),
        os.path.join(sys.prefix, "share", "tfpipe", "runtimes"),
    ]
    for candidate in candidates:
        if candidate and os.path.isdir(candidate):
            return candidate
    raise ParameterError(
        "cannot find the runtime lock files (infra/runtimes/*.lock); set TFPIPE_LOCKS to their "
        "directory"
    )


def lock_file(name: str) -> str:
    return os.path.join(locks_dir(), f"{check_runtime(name)}.lock")


def pinned_packages(lock_path: str) -> list[str]:
    """``name==version`` of every pin in a lock file (comments and annotations dropped)."""
    pins = []
    with open(lock_path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line and not line.startswith("-"):
                name, _, version = line.partition("==")
                pins.append(f"{re.sub(r'[-_.]+', '-', name.split('[')[0]).lower()}=={version}")
    return sorted(pins)


@functools.cache
def runtime_identity(name: str) -> str:
    """``<name>@<digest>`` of the runtime's pinned packages minus development tools."""
    pins = [p for p in pinned_packages(lock_file(name)) if p.split("==")[0] not in DEV_TOOLS]
    return f"{name}@{digest(pins)[:12]}"


def source_root() -> str:
    """A directory that holds the ``tfpipe`` package and nothing else, for a component process's
    ``PYTHONPATH``: a link to this checkout's (or this wheel's) ``tfpipe`` package in a cache
    directory, so that neither the repository's other folders (``components/``, ``pipelines/``,
    ``tests/``) nor anything beside an installed package can shadow the runtime's or the user's
    own modules."""
    import tfpipe

    package = os.path.dirname(os.path.realpath(tfpipe.__file__))
    target = os.path.join(
        os.path.expanduser(os.environ.get("TFPIPE_CACHE", "~/.cache/tfpipe")),
        f"src-{digest(package)[:10]}",
    )
    link = os.path.join(target, "tfpipe")
    if not os.path.lexists(link):
        os.makedirs(target, exist_ok=True)
        try:
            os.symlink(package, link)
        except FileExistsError:  # another process made it first
            pass
    return target


def scrubbed_environment() -> dict[str, str]:
    """This process's environment without the orchestrator's secrets."""
    return {k: v for k, v in os.environ.items() if not any(p.search(k) for p in SECRET_PATTERNS)}


def child_environment(runtime: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a component process in ``runtime``: tfpipe importable, the runtime's
    TensorFlow switches set, the orchestrator's secrets removed."""
    env = scrubbed_environment()
    for key in ("TF_USE_LEGACY_KERAS",):
        env.pop(key, None)  # each runtime sets its own
    for key, value in {**COMMON_ENV, **RUNTIMES[check_runtime(runtime)].env}.items():
        env.setdefault(key, value)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root(), env.get("PYTHONPATH")]))
    env["TFPIPE_LOCKS"] = locks_dir()  # the same locks, so both sides compute one fingerprint
    env.update(extra or {})
    return env


def apply_runtime_environment(runtime: str) -> None:
    """Set the runtime's switches in *this* process (a component process's own entry point,
    before TensorFlow is imported; never called on import)."""
    for key, value in {**COMMON_ENV, **RUNTIMES[check_runtime(runtime)].env}.items():
        os.environ.setdefault(key, value)


def interpreter(name: str) -> str:
    """The runtime's Python: ``$TFPIPE_PYTHON_<NAME>`` or the venv that ``make setup`` links."""
    override = os.environ.get(f"TFPIPE_PYTHON_{check_runtime(name).upper()}")
    if override:
        return override
    venvs = os.environ.get("TFPIPE_VENVS") or os.path.join(PACKAGE_ROOT, ".venvs")
    path = os.path.join(venvs, name, "bin", "python")
    if not os.path.exists(path):
        raise ParameterError(
            f"runtime '{name}' is not installed (no {path}); run `make setup` "
            f"(or `bash infra/setup_runtime.sh {name}`), or set TFPIPE_PYTHON_{name.upper()}"
        )
    return path
