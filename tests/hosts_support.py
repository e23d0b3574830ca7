"""The four test hosts of ``infra/hosts/hosts.sh`` seen from this machine: commands run on a host
(``ip netns exec``) and a REST client of the API server on ``control``."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from airflow_support import AirflowServer
from conftest import REPO

SCRIPT = os.path.join(REPO, "infra", "hosts", "hosts.sh")
CONTROL = "10.213.7.10"


def netns(name: str, *command: str, stdin: str = "", timeout: float = 60) -> str:
    proc = subprocess.run(
        ["ip", "netns", "exec", name, *command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{command} on {name} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return proc.stdout


class HostsServer(AirflowServer):
    """A REST client of the API server on ``control``: this machine's own network cannot reach
    the hosts' addresses, so each request is a curl run on the control host."""

    def __init__(self, prefix: str, airflow_home: str, state: str) -> None:
        super().__init__(8080, airflow_home, os.path.join(state, "api-server.log"))
        self.base = f"http://{CONTROL}:8080"
        self.ns = f"{prefix}control"
        self.headers = os.path.join(state, "test-headers")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        auth: bool = True,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        command = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}"]
        command += ["-H", "Content-Type: application/json"]
        if auth:  # the token from a file (mode 600), not the command line
            command += ["-H", f"@{self.headers}"]
        if body is not None:
            command += ["--data-binary", "@-"]
        out = netns(self.ns, *command, self.base + path, stdin=json.dumps(body) if body else "")
        payload, _, status = out.rpartition("\n")
        if int(status) not in expect:
            raise AssertionError(f"{method} {path} → {status}: {payload[:2000]}")
        return json.loads(payload) if payload else None

    def get_text(self, path: str) -> tuple[int, str]:
        out = netns(
            self.ns,
            "curl",
            "-sS",
            "-w",
            "\n%{http_code}",
            "-H",
            f"@{self.headers}",
            self.base + path,
        )
        payload, _, status = out.rpartition("\n")
        return int(status), payload

    def wait_ready(self, timeout: float = 180) -> None:
        password_file = os.path.join(
            self.airflow_home, "simple_auth_manager_passwords.json.generated"
        )
        password = json.load(open(password_file))["admin"]
        self.token = self.request(
            "POST", "/auth/token", {"username": "admin", "password": password}, auth=False
        )["access_token"]
        fd = os.open(self.headers, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"Authorization: Bearer {self.token}\n")
