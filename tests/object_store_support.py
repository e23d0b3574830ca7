"""An S3-compatible object store for the tests: ``moto_server`` on 127.0.0.1, started and stopped
by the test that needs it (no network, no account)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator

from airflow_support import free_port
from conftest import REPO

MOTO_SERVER = os.path.join(REPO, ".venvs", "dev", "bin", "moto_server")


@contextlib.contextmanager
def moto_server(buckets: tuple[str, ...] = ("tfpipe",)) -> Iterator[dict[str, str]]:
    """Yield the environment that points boto3 (and tfpipe) at a fresh moto server holding
    ``buckets``; the server's process group is stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.2)
        env = {
            "TFPIPE_S3_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "tfpipe-test-key",
            "AWS_SECRET_ACCESS_KEY": "tfpipe-test-secret-value",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        for bucket in buckets:
            s3.create_bucket(Bucket=bucket)
        yield env
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def client(env: dict[str, str]):
    """A boto3 S3 client of the moto server ``env`` points at."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["TFPIPE_S3_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


def keys(env: dict[str, str], bucket: str, prefix: str = "") -> list[str]:
    s3 = client(env)
    found: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [obj["Key"] for obj in page.get("Contents", [])]
    return found
