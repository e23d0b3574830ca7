"""The layout of the artifact store, in one place: where a pipeline's artifacts, locks, scratch
and served models live, and where one step's artifact lives. Pure path arithmetic, no I/O.

    <store>/<pipeline>/artifacts/<step>/<fingerprint>/   payload + manifest.json (written last)
    <store>/<pipeline>/locks/<step>/<fingerprint>.lock   one writer per artifact
    <store>/<pipeline>/scratch/<step>/<fingerprint>/     work that outlives a failed attempt
    <store>/serving/<model>/<version>/                   pushed SavedModels

``<store>`` is a local directory or an ``s3://bucket/prefix``; both use ``/`` separators.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MANIFEST = "manifest.json"
LEASE = ".lease"
STAGING_MARK = ".staging-"
ARTIFACTS = "artifacts"


def absolute_uri(uri: str) -> str:
    """A local path made absolute; an object-store URI as it is."""
    return uri.rstrip("/") if "://" in uri else os.path.abspath(uri)


def join(uri: str, *parts: str) -> str:
    """``uri/part/…`` for a path or an object URI (empty parts skipped)."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts if p)])


def pipeline_artifacts(store: str, pipeline: str) -> str:
    """``<store>/<pipeline>/artifacts``: the root every step's artifacts go under."""
    return join(absolute_uri(store), pipeline, ARTIFACTS)


def serving_base(store: str) -> str:
    return join(absolute_uri(store), "serving")


@dataclass(frozen=True)
class ArtifactAddress:
    """Where one step's artifact lives: ``<root>/<step>/<fingerprint>``."""

    root: str  # <store>/<pipeline>/artifacts
    step: str
    fingerprint: str

    @property
    def uri(self) -> str:
        return join(self.root, self.step, self.fingerprint)

    @property
    def pipeline_dir(self) -> str:
        """``<store>/<pipeline>``: beside the artifacts, the locks and the scratch."""
        return self.root.rstrip("/").rpartition("/")[0]

    @property
    def lock(self) -> str:
        return join(self.pipeline_dir, "locks", self.step, f"{self.fingerprint}.lock")

    @property
    def scratch(self) -> str:
        return join(self.pipeline_dir, "scratch", self.step, self.fingerprint)

    @classmethod
    def of(cls, uri: str) -> ArtifactAddress:
        """The address of an artifact URI (as :attr:`uri` makes them)."""
        root_and_step, _, fingerprint = uri.rstrip("/").rpartition("/")
        root, _, step = root_and_step.rpartition("/")
        if not root or not step or not fingerprint:
            raise ValueError(f"not an artifact URI (<root>/<step>/<fingerprint>): {uri!r}")
        return cls(root, step, fingerprint)


def artifact_uri(root: str, step: str, fingerprint: str) -> str:
    return ArtifactAddress(absolute_uri(root), step, fingerprint).uri


def artifacts_root_of(uri: str) -> str:
    return ArtifactAddress.of(uri).root
