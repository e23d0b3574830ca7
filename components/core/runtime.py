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
# What a component process (and the user code in it) gets from the environment it is started
# from: an allowlist, not the environment minus known secrets. The system basics, locale and
# temporary directories; TensorFlow, Beam, CUDA and threading settings; tfpipe's own settings;
# the object store's endpoint and credentials (AWS_*, what boto3 reads); proxies and CA bundles
# to reach it. Anything else (the orchestrator's database URL, broker password, Fernet key, API
# tokens) stays out unless the pipeline names it (``Pipeline(environment=...)``) or the
# deployment does (``TFPIPE_PASS_ENV``, comma-separated).
ALLOWED_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "HOSTNAME", "TERM", "TZ", "LANG", "LANGUAGE",
        "TMPDIR", "TMP", "TEMP", "PYTHONPATH", "PYTHONHASHSEED", "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS", "PYTHONIOENCODING", "PYTHONUTF8",
        "VIRTUAL_ENV", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "XLA_FLAGS", "SSL_CERT_FILE", "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
        "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip
ALLOWED_PREFIXES = ("LC_", "XDG_", "TF_", "TFPIPE_", "BEAM_", "CUDA_", "NVIDIA_", "KMP_", "GRPC_")
# The object store's endpoint and credentials: what the artifact store itself needs.
STORE_PREFIXES = ("AWS_",)
# Names that look like secrets are refused even under an allowed prefix (e.g. Terraform's
# TF_TOKEN_<host>), unless they are the store's own credentials or named by the pipeline.
SECRET_NAME = re.compile(r"TOKEN|PASSW|SECRET|API_?KEY|CREDENTIAL|PRIVATE|_KEY$|_KEY_", re.I)
PASS_ENV = "TFPIPE_PASS_ENV"


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


def passed_names(named: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The variables a pipeline (``named``) or the deployment (``$TFPIPE_PASS_ENV``) adds."""
    extra = [n.strip() for n in os.environ.get(PASS_ENV, "").split(",") if n.strip()]
    return sorted({*named, *extra})


def allowed(name: str, passed: list[str]) -> bool:
    if name in passed or name.startswith(STORE_PREFIXES):
        return True
    if SECRET_NAME.search(name):
        return False
    return name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES)


def child_environment(
    runtime: str, extra: dict[str, str] | None = None, named: tuple[str, ...] | list[str] = ()
) -> dict[str, str]:
    """The environment for a component process in ``runtime``: the allowlisted variables of
    this one plus those ``named`` by the pipeline, tfpipe importable, the runtime's TensorFlow
    switches set. The names travel on (``$TFPIPE_PASS_ENV``), so processes that component
    starts (a training cluster's tasks) get them too."""
    passed = passed_names(named)
    env = {k: v for k, v in os.environ.items() if allowed(k, passed)}
    for key in ("TF_USE_LEGACY_KERAS",):
        env.pop(key, None)  # each runtime sets its own
    for key, value in {**COMMON_ENV, **RUNTIMES[check_runtime(runtime)].env}.items():
        env.setdefault(key, value)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root(), env.get("PYTHONPATH")]))
    env["TFPIPE_LOCKS"] = locks_dir()  # the same locks, so both sides compute one fingerprint
    if passed:
        env[PASS_ENV] = ",".join(passed)
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
