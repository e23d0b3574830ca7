"""Resolve a step once, then run it with caching by fingerprint and an atomic commit.

:func:`resolve` is the one step resolution: it validates a step's parameters, calls the
component's resolve hook for what the step reads from outside the artifact store (the data files a
glob matched, the served baseline, the user module), and computes the fingerprint and URI, without
running anything and without TensorFlow. The planner, the Airflow tasks and a component process
started with no plan (a pod an operator launched) call it; a process handed a planned invocation
(the local runner's workers, an Airflow task's component process) rebuilds it from the request with
:meth:`Invocation.from_request`, checking only that it runs the same code and runtime the planner
fingerprinted, so what it reads is exactly what was fingerprinted. :func:`execute` runs it unless
its artifact is committed.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tfpipe.components import get_spec
from tfpipe.components.artifacts import (
    Artifact,
    artifact_lock,
    is_committed,
    open_artifact,
    remove_stale_staging,
    staged,
    utc_now,
)
from tfpipe.components.artifacts.layout import artifact_uri, artifacts_root_of
from tfpipe.components.artifacts.scratch_mirror import ScratchMirror
from tfpipe.components.artifacts.store import store_for
from tfpipe.components.core.errors import TfpipeError
from tfpipe.components.core.fingerprint import artifact_fingerprint, code_version
from tfpipe.components.core.runtime import runtime_identity
from tfpipe.components.core.spec import ComponentParams, ComponentSpec, Context, External


class HaltedByInput(TfpipeError):
    """An input artifact says that steps reading it must not run (e.g. blocking anomalies)."""


@dataclass(frozen=True)
class Invocation:
    """One step of a pipeline, resolved: validated parameters, inputs and its fingerprint."""

    step: str
    spec: ComponentSpec
    params: ComponentParams
    input_uris: dict[str, str]
    input_fingerprints: dict[str, str]
    runtime: str
    fingerprint: str
    uri: str
    external: External = field(default_factory=External)

    @property
    def artifacts_root(self) -> str:
        return artifacts_root_of(self.uri)

    def to_request(self, run_id: str) -> dict[str, Any]:
        """The planned invocation as JSON, for a process in the step's runtime."""
        return {
            "step": self.step,
            "component": self.spec.name,
            "params": self.params.model_dump(mode="json"),
            "inputs": self.input_uris,
            "runtime": self.runtime,
            "artifacts_root": self.artifacts_root,
            "run_id": run_id,
            "external": self.external.values,
            "planned": {
                "fingerprint": self.fingerprint,
                "input_fingerprints": self.input_fingerprints,
                "external_digests": self.external.digests,
                # A non-chief task of a training cluster: it must not take the artifact's lock.
                "commits": self.external.commits,
                "code_version": code_version(self.spec.name),
                "runtime_identity": runtime_identity(self.runtime),
            },
        }

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> Invocation:
        """The invocation a request carries: as planned when it was planned (nothing resolved
        again), else resolved here (a component process an operator started with no plan)."""
        planned = request.get("planned")
        if not planned:
            return resolve_request(request)
        spec = get_spec(request["component"])
        here = {
            "code_version": code_version(spec.name),
            "runtime_identity": runtime_identity(request["runtime"]),
        }
        differs = [k for k, v in here.items() if planned.get(k) != v]
        if differs:
            raise TfpipeError(
                f"step '{request['step']}': the {request['runtime']} runtime sees a different "
                f"{' and '.join(k.replace('_', ' ') for k in differs)} than the planner "
                f"({', '.join(f'{planned.get(k)} vs {here[k]}' for k in differs)}); the two "
                "sides run different code or locks (reinstall, or check TFPIPE_LOCKS/PYTHONPATH)"
            )
        params = spec.validate_params(request["params"], request["step"], request["runtime"])
        fingerprint = planned["fingerprint"]
        return cls(
            step=request["step"],
            spec=spec,
            params=params,
            input_uris=dict(request["inputs"]),
            input_fingerprints=dict(planned["input_fingerprints"]),
            runtime=request["runtime"],
            fingerprint=fingerprint,
            uri=artifact_uri(request["artifacts_root"], request["step"], fingerprint),
            external=External(
                values=dict(request.get("external") or {}),
                digests=dict(planned["external_digests"]),
                commits=bool(planned.get("commits", True)),
            ),
        )


def resolve(
    *,
    component: str,
    step: str,
    raw_params: dict[str, Any],
    input_uris: dict[str, str],
    input_fingerprints: dict[str, str],
    runtime: str,
    artifacts_root: str,
    external_values: dict[str, Any] | None = None,
) -> Invocation:
    """Validate parameters, resolve what the step reads from outside the store, and compute
    the fingerprint and URI, without running anything. ``external_values``: what an earlier
    resolution froze, reused as is."""
    spec = get_spec(component)
    spec.check_inputs(input_uris, step)
    params = spec.validate_params(raw_params, step, runtime)
    external = spec.resolve_external(params, input_fingerprints, external_values)
    fingerprint = artifact_fingerprint(
        component=component,
        params=params.fingerprint_params(),
        inputs=input_fingerprints,
        external=external.digests,
        runtime=runtime_identity(runtime),
    )
    uri = artifact_uri(artifacts_root, step, fingerprint)
    return Invocation(
        step, spec, params, input_uris, input_fingerprints, runtime, fingerprint, uri, external
    )


def resolve_request(request: dict[str, Any]) -> Invocation:
    """Resolve an unplanned request whose inputs are committed artifacts."""
    inputs = {name: open_artifact(uri) for name, uri in request["inputs"].items()}
    return resolve(
        component=request["component"],
        step=request["step"],
        raw_params=request["params"],
        input_uris={n: a.uri for n, a in inputs.items()},
        input_fingerprints={n: a.fingerprint for n, a in inputs.items()},
        runtime=request["runtime"],
        artifacts_root=request["artifacts_root"],
        external_values=request.get("external"),
    )


def scratch_dir(inv: Invocation) -> str:
    """Local work that must outlive a failed attempt (checkpoints to resume from), beside the
    artifacts or, for an object store, in the worker's cache. Only the artifact's lock holder
    uses it."""
    return store_for(inv.uri).scratch_dir(inv.uri)


def halting_input(inputs: dict[str, Artifact]) -> str | None:
    for name, artifact in inputs.items():
        if artifact.halt:
            return f"input '{name}' ({artifact.type}) stops this step: {artifact.halt}"
    return None


def execute(
    inv: Invocation, run_id: str, progress: Callable[[str], None] = lambda m: None
) -> dict[str, Any]:
    """Run ``inv`` unless its artifact is already committed; return what happened.

    One writer per artifact: whoever holds the artifact's lock computes it; a concurrent run of
    the same step with the same inputs waits, then finds it committed (cached). A writer that
    dies releases the lock with its process, and the next attempt resumes from its scratch."""
    start = time.perf_counter()
    if is_committed(inv.uri):
        return _result(inv, open_artifact(inv.uri), cached=True, seconds=0.0)
    if not inv.external.commits:  # a helper task: the committing process holds the lock
        return _execute_locked(inv, run_id, progress, start)
    with artifact_lock(inv.uri, lambda: progress("waiting: another run is computing this")):
        if is_committed(inv.uri):
            return _result(
                inv, open_artifact(inv.uri), cached=True, seconds=time.perf_counter() - start
            )
        return _execute_locked(inv, run_id, progress, start)


def _execute_locked(
    inv: Invocation, run_id: str, progress: Callable[[str], None], start: float
) -> dict[str, Any]:
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    inputs = {name: open_artifact(uri) for name, uri in inv.input_uris.items()}
    halt = halting_input(inputs)
    if halt:
        raise HaltedByInput(f"step '{inv.step}' not run: {halt}")
    remove_stale_staging(inv.uri)
    manifest: dict[str, Any] = {
        "type": inv.spec.artifact_type.TYPE,
        "producer": {"component": inv.spec.name, "step": inv.step},
        "run_id": run_id,
        "fingerprint": inv.fingerprint,
        "inputs": {n: {"uri": a.uri, "fingerprint": a.fingerprint} for n, a in inputs.items()},
        "parameters": inv.params.model_dump(mode="json"),
        "external": inv.external.digests,
        "code_version": code_version(inv.spec.name),
        "runtime": runtime_identity(inv.runtime),
        "started_at": utc_now(),
    }
    entry_point = inv.spec.load_entry_point()
    mirror = ScratchMirror.for_artifact(inv.uri, scratch_dir(inv))
    if mirror.restore():
        progress(f"restored the scratch of an earlier attempt from {mirror.remote}")
    with staged(inv.uri, manifest) as output:
        ctx = Context(
            step=inv.step,
            run_id=run_id,
            output=output,
            inputs=inputs,
            params=inv.params,
            runtime=inv.runtime,
            scratch_dir=mirror.local,
            checkpointed=mirror.sync,
            scratch_remote=mirror.remote,
            progress=progress,
            external=inv.external.values,
        )
        summary = entry_point(ctx) or {}
        halt = summary.pop("halt", None)
        if halt:
            manifest["halt"] = halt
        if mirror.active:
            ctx.after_commit(mirror.discard)
            figures = mirror.stats.as_dict()
            own = summary.get("scratch_mirror")  # mirrored by a process of its own (a cluster's
            if own:  # chief): its syncs, this process's restore
                figures = {**own, **{k: v for k, v in figures.items() if k.startswith("restored")}}
            if figures["syncs"] or figures["restored_files"]:
                summary["scratch_mirror"] = figures
        manifest["summary"] = summary
        manifest["seconds"] = round(time.perf_counter() - start, 3)
    ctx.on_commit()
    result = _result(inv, open_artifact(inv.uri), cached=False, seconds=time.perf_counter() - start)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = round(
        usage.ru_utime + usage.ru_stime - usage_before.ru_utime - usage_before.ru_stime, 3
    )
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # the process high-water mark so far
    return result


def _result(inv: Invocation, artifact: Artifact, *, cached: bool, seconds: float) -> dict[str, Any]:
    return {
        "step": inv.step,
        "component": inv.spec.name,
        "uri": artifact.uri,
        "fingerprint": artifact.fingerprint,
        "cached": cached,
        "seconds": round(seconds, 3),
        "summary": artifact.summary,
        "halt": artifact.halt,
    }
