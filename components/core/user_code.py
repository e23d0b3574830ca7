"""Loading functions from the user's module file, with errors that name the file and function."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from tfpipe.components.core.errors import UserCodeError
from tfpipe.components.core.fingerprint import digest, file_digest


def module_digest(module_file: str, what: str) -> str:
    """Digest of a user module and of every local module it imports, transitively: modules beside
    it (or in its package) and tfpipe's own helpers. Installed libraries are covered by the
    runtime's identity. An edit to any file the user code runs changes the digest."""
    if not os.path.isfile(module_file):
        raise UserCodeError(f"{what}: module_file '{module_file}' does not exist")
    seen: dict[str, str] = {}
    pending = [os.path.realpath(module_file)]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen[path] = file_digest(path)
        pending += _local_imports(path)
    root = os.path.dirname(os.path.realpath(module_file))
    return digest(sorted((os.path.relpath(p, root), d) for p, d in seen.items()))


def _local_imports(path: str) -> list[str]:
    """Files of the modules ``path`` imports that live beside it or in tfpipe's source tree."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError):
        return []  # the import itself will report it, naming the file
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = os.path.dirname(path)
            for _ in range(node.level - 1):
                base = os.path.dirname(base)
            rel = (node.module or "").replace(".", os.sep)
            names += [os.path.join(base, rel, alias.name) for alias in node.names]
            names.append(os.path.join(base, rel))
    found = []
    for name in names:
        if os.path.isabs(name):
            places = [name]
        else:
            # Beside the module, or tfpipe's own packages (never an installed library: the
            # runtime's identity covers those, and where they live differs between processes).
            parts = name.split(".")
            places = [os.path.join(os.path.dirname(path), *parts)]
            if parts[0] == "tfpipe":
                import tfpipe

                places += [os.path.join(root, *parts[1:]) for root in tfpipe.__path__]
        for base in places:
            for candidate in (base + ".py", os.path.join(base, "__init__.py")):
                if os.path.isfile(candidate):
                    found.append(os.path.realpath(candidate))
    return found


def top_level_names(module_file: str) -> set[str]:
    """Names a module file binds at its top level (functions, classes, assignments, imports),
    read without importing it (no TensorFlow, nothing of the user's code runs)."""
    try:
        with open(module_file, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=module_file)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return set()  # loading the module later reports it, naming the file
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


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
    """Wrap a user function so that anything it raises names the function and its file; a key
    it asks for and its arguments lack (``inputs["prolin"]``, a feature the model builder wants)
    also names the line, the keys there are and the nearest one."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserCodeError:
            raise
        except KeyError as exc:
            missing = exc.args[0] if exc.args else None
            known = _known_keys([*args, *kwargs.values()])
            if isinstance(missing, str) and known and missing not in known:
                raise UserCodeError(
                    missing_key_message(fn.__name__, what, module_file, missing, known, exc)
                ) from exc
            raise UserCodeError(
                f"{what} '{fn.__name__}' in {module_file}{_where(exc, module_file)} raised "
                f"KeyError: {exc}"
            ) from exc
        except Exception as exc:
            raise UserCodeError(
                f"{what} '{fn.__name__}' in {module_file}{_where(exc, module_file)} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    call.__name__ = fn.__name__
    return call


def missing_key_message(
    function: str, what: str, module_file: str, missing: str, known: list[str], exc: BaseException
) -> str:
    import difflib

    near = difflib.get_close_matches(missing, known, n=1, cutoff=0.5)
    near = near or [k for k in known if k.lower() == missing.lower()]
    return (
        f"{what} '{function}' in {module_file}{_where(exc, module_file)} asks for '{missing}', "
        f"which is not one of its inputs"
        + (f"; did you mean '{near[0]}'?" if near else "")
        + f" Available: {', '.join(sorted(known))}"
    )


def _known_keys(values: list[Any]) -> list[str]:
    """The keys a user function could have asked for: those of a mapping argument (tf.Transform's
    ``inputs``), or the names of a sequence of named things (the model builder's ``features``)."""
    from collections.abc import Mapping, Sequence

    for value in values:
        if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
            return list(value)
        if isinstance(value, Sequence) and not isinstance(value, str) and value:
            names = [getattr(v, "name", None) for v in value]
            if all(isinstance(n, str) for n in names):
                return [str(n) for n in names]
    return []


def _where(exc: BaseException, module_file: str) -> str:
    """``, line N (`source`)``: the innermost line of the user's file the error passed through."""
    import linecache
    import traceback

    target = os.path.realpath(module_file)
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) == target
    ]
    if not frames:
        return ""
    line = frames[-1].lineno or 0
    text = (linecache.getline(frames[-1].filename, line) or "").strip()
    return f", line {line}" + (f" (`{text}`)" if text else "")
