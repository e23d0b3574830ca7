"""Where tfpipe keeps artifacts, run records, reports and pushed models: one definition for the
CLI, the local runner and the Airflow DAGs, so ``tfpipe runs`` sees Airflow runs too."""

from __future__ import annotations

import os

from tfpipe.components.artifacts.layout import join, pipeline_artifacts
from tfpipe.components.artifacts.layout import serving_base as layout_serving_base

DEFAULT_HOME = os.path.join("~", ".tfpipe")


def default_home() -> str:
    """``$TFPIPE_HOME``, else ``~/.tfpipe`` (``make`` sets it to ``<repo>/.tfpipe``)."""
    return os.path.abspath(os.path.expanduser(os.environ.get("TFPIPE_HOME") or DEFAULT_HOME))


def store_root(home: str) -> str:
    """Where artifacts and pushed models go: ``$TFPIPE_STORE`` (a directory, or an
    ``s3://bucket/prefix`` on an S3-compatible object store), else the home itself. Run records,
    reports, locks of a local store and scratch stay local either way."""
    store = os.environ.get("TFPIPE_STORE", "").strip()
    if not store:
        return home
    return store.rstrip("/") if "://" in store else os.path.abspath(os.path.expanduser(store))


def artifacts_root(home: str, pipeline: str) -> str:
    return pipeline_artifacts(store_root(home), pipeline)


def runs_dir(home: str, pipeline: str) -> str:
    return os.path.join(home, pipeline, "runs")


def serving_base(home: str) -> str:
    return layout_serving_base(store_root(home))


def asset_claims_path(home: str, pipeline: str, dag_id: str) -> str:
    """The ledger of which run of ``dag_id`` trains on which asset event (see asset_claims): on
    the object store when the store is one (shared by every host), else under the home."""
    store = store_root(home)
    if store.startswith("s3://"):
        return join(store, pipeline, "asset_claims", f"{dag_id}.json")
    return os.path.join(home, pipeline, "asset_claims", f"{dag_id}.json")
