"""The asset-claims ledger on the object store: two hosts (two homes, two processes) claiming
the same data drops at the same moment give each drop to exactly one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import REPO
from object_store_support import moto_server

DROPS = 12

# One host: claims DROPS runs, run i triggered by drop i, whose history is every drop up to i
# (so each claim may sweep in drops no run took yet). Starts at a shared instant.
HOST = """
import json, sys, time
from tfpipe.pipelines.asset_claims import AssetClaims, Event
from tfpipe.pipelines.home import asset_claims_path

host, start, drops = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
def ev(i):
    stamp = f"2026-01-01T00:00:{i:02d}+00:00"
    return Event(key=f"tfpipe://penguins/data@{stamp}", timestamp=stamp, extra={"drop": i})
ledger = AssetClaims(asset_claims_path(sys.argv[4], "penguins", "penguins"))
print("@@PATH", ledger.path)
time.sleep(max(0.0, start - time.time()))
claims = {}
for i in range(drops):
    run = f"{host}-run-{i}"
    claim = ledger.claim(run, [ev(i)], lambda i=i: [ev(j) for j in range(i + 1)])
    claims[run] = [e.extra["drop"] for e in claim.events]
print("@@CLAIMS", json.dumps({"claims": claims, "conflicts": ledger.conflicts}))
"""


def test_two_hosts_claiming_at_once_claim_each_drop_exactly_once(tmp_path):
    with moto_server(("tfpipe",)) as s3:
        env = {
            **os.environ,
            **s3,
            "TFPIPE_STORE": "s3://tfpipe/ml",
            "PYTHONPATH": os.path.join(REPO, ".venvs", "src"),
        }
        start = time.time() + 3
        hosts = [
            subprocess.Popen(
                [sys.executable, "-c", HOST, name, str(start), str(DROPS), str(tmp_path / name)],
                env={**env, "TFPIPE_CACHE": str(tmp_path / name / "cache")},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("w1", "w2")
        ]
        outputs = [h.communicate(timeout=120) for h in hosts]
        results, paths = [], set()
        for (out, err), host in zip(outputs, hosts, strict=True):
            assert host.returncode == 0, err[-3000:]
            for line in out.splitlines():
                if line.startswith("@@PATH "):
                    paths.add(line.split(" ", 1)[1])
                if line.startswith("@@CLAIMS "):
                    results.append(json.loads(line.split(" ", 1)[1]))
    # One ledger, on the store, for both homes.
    assert paths == {"s3://tfpipe/ml/penguins/asset_claims/penguins.json"}
    claimed = [d for r in results for drops in r["claims"].values() for d in drops]
    assert sorted(claimed) == list(range(DROPS)), claimed  # every drop once, none twice
    assert [len(r["claims"]) for r in results] == [DROPS, DROPS]  # every run got an answer
    print("compare-and-swap conflicts:", [r["conflicts"] for r in results])


def test_a_claim_written_by_another_host_between_read_and_write_is_not_overwritten(
    tmp_path, monkeypatch
):
    """Deterministic interleaving: host A reads the ledger, host B claims the same drop before
    A writes; A's write is refused (If-Match), A re-reads, and the drop stays B's."""
    from tfpipe.pipelines.asset_claims import AssetClaims, Event

    def ev(i: int) -> Event:
        stamp = f"2026-01-01T00:00:0{i}+00:00"
        return Event(key=f"tfpipe://penguins/data@{stamp}", timestamp=stamp, extra={"drop": i})

    with moto_server(("tfpipe",)) as s3:
        for name, value in {**s3, "TFPIPE_CACHE": str(tmp_path / "cache")}.items():
            monkeypatch.setenv(name, value)
        path = "s3://tfpipe/ml/penguins/asset_claims/penguins.json"
        host_a, host_b = AssetClaims(path), AssetClaims(path)
        host_b.claim("b-run-0", [ev(0)], lambda: [ev(0)])  # the ledger exists (If-Match path)

        def history_while_b_claims() -> list[Event]:
            # Called by A after it read the ledger, before it writes.
            assert host_b.claim("b-run-1", [ev(1)], lambda: [ev(1)]).events == [ev(1)]
            return [ev(1), ev(2)]

        claim = host_a.claim("a-run", [ev(1), ev(2)], history_while_b_claims)
        assert host_a.conflicts == 1  # its first write was refused
        assert claim.events == [ev(2)] and claim.taken_by == {ev(1).key: "b-run-1"}
        # Both hosts now read the same ledger.
        assert host_b.claim("a-run", [], lambda: []).events == [ev(2)]
        assert host_b.claim("b-run-1", [], lambda: []).events == [ev(1)]
