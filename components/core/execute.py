"""Run one component invocation with caching by fingerprint and an atomic commit."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components import get_spec
from components.core.artifacts import (
    Artifact,
    is_committed,
    read_artifact,
    remove_stale_staging,
    staged_artifact,
    utc_now,
)
from components.core.fingerprint import artifact_fingerprint, code_version
from components.core.runtime import runtime_identity
from components.core.spec import ComponentParams, ComponentSpec, Context


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

    def to_request(self, run_id: str) -> dict[str, Any]:
        return {
            "step": self.step,
            "component": self.spec.name,
            "params": self.params.model_dump(mode="json"),
            "inputs": self.input_uris,
            "runtime": self.runtime,
            "artifacts_root": os.path.dirname(os.path.dirname(self.uri)),
            "run_id": run_id,
        }


def resolve(
    *,
    component: str,
    step: str,
    raw_params: dict[str, Any],
    input_uris: dict[str, str],
    input_fingerprints: dict[str, str],
    runtime: str,
    artifacts_root: str,
) -> Invocation:
    """Validate parameters and compute the fingerprint and URI, without running anything."""
    spec = get_spec(component)
    spec.check_inputs(input_uris, step)
    params = spec.validate_params(raw_params, step, runtime)
    fingerprint = artifact_fingerprint(
        component=component,
        params=params.model_dump(mode="json"),
        inputs=input_fingerprints,
        external=params.external_fingerprints(input_fingerprints),
        runtime=runtime_identity(runtime),
    )
    uri = os.path.join(os.path.abspath(artifacts_root), step, fingerprint)
    return Invocation(step, spec, params, input_uris, input_fingerprints, runtime, fingerprint, uri)


def resolve_request(request: dict[str, Any]) -> Invocation:
    """Resolve a request whose inputs are committed artifacts (the component CLI, Airflow tasks)."""
    inputs = {name: read_artifact(uri) for name, uri in request["inputs"].items()}
    return resolve(
        component=request["component"],
        step=request["step"],
        raw_params=request["params"],
        input_uris={n: a.uri for n, a in inputs.items()},
        input_fingerprints={n: a.fingerprint for n, a in inputs.items()},
        runtime=request["runtime"],
        artifacts_root=request["artifacts_root"],
    )


def scratch_dir(inv: Invocation) -> str:
    """``<root>/../scratch/<step>/<fingerprint>``: work that must outlive a failed attempt."""
    root = os.path.dirname(os.path.dirname(inv.uri))
    return os.path.join(os.path.dirname(root), "scratch", inv.step, inv.fingerprint)


def execute(
    inv: Invocation, run_id: str, progress: Callable[[str], None] = lambda m: None
) -> dict[str, Any]:
    """Run ``inv`` unless its artifact is already committed; return what happened."""
    start = time.perf_counter()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    if is_committed(inv.uri):
        return _result(inv, read_artifact(inv.uri), cached=True, seconds=0.0)
    remove_stale_staging(inv.uri)
    inputs = {name: read_artifact(uri) for name, uri in inv.input_uris.items()}
    manifest: dict[str, Any] = {
        "type": inv.spec.artifact_type,
        "producer": {"component": inv.spec.name, "step": inv.step},
        "run_id": run_id,
        "fingerprint": inv.fingerprint,
        "inputs": {n: {"uri": a.uri, "fingerprint": a.fingerprint} for n, a in inputs.items()},
        "parameters": inv.params.model_dump(mode="json"),
        "code_version": code_version(inv.spec.name),
        "runtime": runtime_identity(inv.runtime),
        "started_at": utc_now(),
    }
    entry_point = inv.spec.load_entry_point()
    with staged_artifact(inv.uri, manifest) as (staging, manifest):
        ctx = Context(
            step=inv.step,
            run_id=run_id,
            output_dir=staging,
            inputs=inputs,
            params=inv.params,
            runtime=inv.runtime,
            scratch_dir=scratch_dir(inv),
            progress=progress,
        )
        manifest["summary"] = entry_point(ctx) or {}
        manifest["seconds"] = round(time.perf_counter() - start, 3)
    result = _result(inv, read_artifact(inv.uri), cached=False, seconds=time.perf_counter() - start)
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
    }
