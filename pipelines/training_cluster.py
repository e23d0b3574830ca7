"""A training cluster whose members are Airflow tasks on named hosts (no TensorFlow, no Airflow).

``build_dag(..., training_cluster={"chief": ["w1:2222"], "worker": ["w2:2222"]})`` makes the
trainer step one Airflow task per member: the chief is the step's own task (its result is what
downstream steps read), every other member a sibling task ``<step>_<role>_<index>`` with the same
inputs. Each task goes to the Celery queue named after its host (the address's host part: a
worker consumes ``--queues default,<host>``) and runs the step with a TF_CONFIG naming the whole
cluster and itself, as a TFJob operator would start the processes. Every member computes the same
fingerprint (the cluster's layout is in it, not which member this is); only the chief commits.

The DAG's structure is fixed when its file is parsed, so the cluster is a DAG-definition setting
(``dags/penguins_cluster.py`` reads it, as JSON, from ``$TFPIPE_TRAINING_CLUSTER``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tfpipe.components.core.errors import ParameterError

ROLES = ("chief", "worker")  # ps tasks serve forever and evaluators never end: not Airflow tasks


@dataclass(frozen=True)
class Member:
    """One task of the cluster: its role, index, ``host:port`` and the Airflow task it runs in."""

    role: str
    index: int
    address: str
    task_id: str

    @property
    def name(self) -> str:
        return f"{self.role}:{self.index}"

    @property
    def host(self) -> str:
        """The host part of the address: also the Celery queue the member's task goes to."""
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def is_chief(self) -> bool:
        return self.role == "chief"


@dataclass(frozen=True)
class TrainingCluster:
    cluster: dict[str, list[str]]
    step: str

    @classmethod
    def of(cls, spec: Mapping[str, Sequence[str]] | str, step: str) -> TrainingCluster:
        """Check a ``{role: ["host:port", …]}`` spec (or its JSON): exactly one chief, workers
        optional, every address ``host:port`` and used once."""
        where = f"training_cluster for step '{step}'"
        if isinstance(spec, str):
            try:
                spec = json.loads(spec)
            except json.JSONDecodeError as exc:
                raise ParameterError(
                    f"{where} is not JSON ({exc}): {spec[:200]!r}; e.g. "
                    '{"chief": ["w1:2222"], "worker": ["w2:2222"]}'
                ) from None
        if not isinstance(spec, Mapping):
            raise ParameterError(
                f"{where} must map roles to address lists, e.g. "
                '{"chief": ["w1:2222"], "worker": ["w2:2222"]}; got ' + repr(spec)
            )
        unknown = sorted(set(spec) - set(ROLES))
        if unknown:
            raise ParameterError(
                f"{where}: roles {unknown} are not supported as Airflow tasks (use {list(ROLES)})"
            )
        cluster: dict[str, list[str]] = {}
        for role in ROLES:
            addresses = spec.get(role) or []
            if isinstance(addresses, str) or not all(isinstance(a, str) for a in addresses):
                raise ParameterError(f"{where}: '{role}' must be a list of 'host:port' strings")
            for address in addresses:
                host, sep, port = address.rpartition(":")
                if not sep or not host or not port.isdigit():
                    raise ParameterError(
                        f"{where}: '{address}' ({role}) is not 'host:port', e.g. 'w1:2222'"
                    )
            if addresses:
                cluster[role] = list(addresses)
        if len(cluster.get("chief", [])) != 1:
            raise ParameterError(f"{where} needs exactly one chief; got {cluster.get('chief')}")
        every = [a for addresses in cluster.values() for a in addresses]
        if len(set(every)) != len(every):
            raise ParameterError(f"{where}: an address is used twice: {every}")
        return cls(cluster, step)

    @property
    def members(self) -> list[Member]:
        """The chief first (it runs as the step's own task), then the workers."""
        return [
            Member(
                role,
                i,
                address,
                self.step if role == "chief" else f"{self.step}_{role}_{i}",
            )
            for role in ROLES
            for i, address in enumerate(self.cluster.get(role, []))
        ]

    def member(self, task_id: str) -> Member:
        return next(m for m in self.members if m.task_id == task_id)

    def tf_config(self, member: Member) -> str:
        return json.dumps(
            {"cluster": self.cluster, "task": {"type": member.role, "index": member.index}}
        )

    def describe(self) -> str:
        return ", ".join(f"{m.name} on {m.host} (task {m.task_id})" for m in self.members)


@contextlib.contextmanager
def member_environment(cluster: TrainingCluster, member: Member) -> Iterator[None]:
    """TF_CONFIG for this member while its step is resolved (the fingerprint) and run (the
    component process inherits it); the task process's environment as it was afterwards."""
    before = os.environ.get("TF_CONFIG")
    os.environ["TF_CONFIG"] = cluster.tf_config(member)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TF_CONFIG", None)
        else:
            os.environ["TF_CONFIG"] = before


# A sibling's task in one of these states has failed a try (or will never run).
FAILED_STATES = ("failed", "up_for_retry", "upstream_failed", "removed")


@dataclass
class SiblingWatch:
    """While a member's step runs, the other members' task states, polled: TensorFlow stops a
    cluster whose member dies once they have joined (its health checks), but a member that fails
    before joining leaves the others waiting for it forever. A sibling whose task fails while this
    one runs, or has failed for good, sets ``stop`` and says why in ``reason``. A sibling waiting
    for its retry when this one starts is not a failure: it is coming."""

    siblings: list[Member]
    states: Callable[[], dict[str, str]]  # task id -> state, this run's tasks
    interval: float = 5.0
    stop: threading.Event = field(default_factory=threading.Event)
    reason: str = ""
    _done: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> SiblingWatch:
        if self.siblings:
            threading.Thread(target=self._watch, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()

    def _watch(self) -> None:
        before: dict[str, str] | None = None
        while not self._done.wait(self.interval):
            try:
                now = self.states()
            except Exception:  # the supervisor busy or gone: the task itself will tell
                continue
            for m in self.siblings:
                state = now.get(m.task_id)
                was = None if before is None else before.get(m.task_id, "")
                if state == "failed" or (
                    state in FAILED_STATES and was is not None and was not in FAILED_STATES
                ):
                    self.reason = f"member {m.name} (task {m.task_id}, host {m.host}) is {state}"
                    self.stop.set()
                    return
            before = now
