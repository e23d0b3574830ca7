"""The data schema ExampleGen infers, and later steps and runs are checked against.

Stored as ``schema.json``: per column its type (int | float | string), presence (fraction of rows
that have a value), and value domain (min/max for numbers, the distinct values for low-cardinality
strings). Later components turn it into a tf.Transform raw feature spec. No TensorFlow here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from components.core.errors import InputDataError

TYPE_ORDER = {"int": 0, "float": 1, "string": 2}


def classify(value: Any) -> str:
    """The narrowest type that holds ``value`` (a CSV string, or a typed value)."""
    if isinstance(value, bool):
        return "int"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, bytes):
        return "string"
    text = str(value).strip()
    try:
        int(text)
        return "int"
    except ValueError:
        pass
    try:
        number = float(text)
        return "float" if math.isfinite(number) or text.lower() in ("inf", "-inf") else "string"
    except ValueError:
        return "string"


@dataclass
class ColumnSchema:
    name: str
    type: str = "int"
    count: int = 0
    missing: int = 0
    min: float | None = None
    max: float | None = None
    domain: list[str] | None = field(default_factory=list)
    examples: int = 0

    @property
    def presence(self) -> float:
        total = self.count + self.missing
        return self.count / total if total else 0.0


@dataclass
class Schema:
    columns: list[ColumnSchema]
    num_rows: int = 0

    def column(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        cols = []
        for c in self.columns:
            d = asdict(c)
            d["presence"] = round(c.presence, 6)
            d.pop("examples")
            cols.append(d)
        return {"num_rows": self.num_rows, "columns": cols}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Schema:
        cols = []
        for c in payload["columns"]:
            c = {k: v for k, v in c.items() if k != "presence"}
            cols.append(ColumnSchema(**c))
        return cls(columns=cols, num_rows=payload.get("num_rows", 0))

    @classmethod
    def load(cls, path: str) -> Schema:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))


class SchemaBuilder:
    """Accumulates a schema over a stream of rows in constant memory (domains are capped)."""

    def __init__(self, names: list[str], max_domain_size: int) -> None:
        self.columns = {n: ColumnSchema(name=n) for n in names}
        self.max_domain_size = max_domain_size
        self._domains: dict[str, set[str] | None] = {n: set() for n in names}
        self._seen_type: dict[str, str | None] = {n: None for n in names}
        self.num_rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self.num_rows += 1
        for name, col in self.columns.items():
            value = row.get(name)
            if value is None:
                col.missing += 1
                continue
            col.count += 1
            kind = classify(value)
            seen = self._seen_type[name]
            if seen is None or TYPE_ORDER[kind] > TYPE_ORDER[seen]:
                self._seen_type[name] = kind
            if kind != "string":
                number = float(value)
                col.min = number if col.min is None else min(col.min, number)
                col.max = number if col.max is None else max(col.max, number)
            domain = self._domains[name]
            if domain is not None:
                domain.add(value.decode() if isinstance(value, bytes) else str(value))
                if len(domain) > self.max_domain_size:
                    self._domains[name] = None

    def build(self) -> Schema:
        cols = []
        for name, col in self.columns.items():
            col.type = self._seen_type[name] or "string"
            domain = self._domains[name]
            col.domain = sorted(domain) if (col.type == "string" and domain is not None) else None
            if col.type == "string":
                col.min = col.max = None
            cols.append(col)
        return Schema(columns=cols, num_rows=self.num_rows)


def check_against(actual: Schema, expected: Schema, where: str, expected_from: str) -> None:
    """Fail with a message naming each column that drifted from the expected schema."""
    problems = []
    missing = [n for n in expected.names if n not in actual.names]
    extra = [n for n in actual.names if n not in expected.names]
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    for col in actual.columns:
        if col.name not in expected.names:
            continue
        want = expected.column(col.name)
        widened = TYPE_ORDER[col.type] > TYPE_ORDER[want.type] and col.count > 0
        if widened and not (want.type == "int" and col.type == "float"):
            problems.append(f"column '{col.name}' is {col.type}, schema says {want.type}")
        elif widened:
            problems.append(f"column '{col.name}' has fractional values, schema says int")
    if problems:
        raise InputDataError(
            f"{where} does not match the expected schema {expected_from}: "
            + "; ".join(problems)
            + ". Fix the data, or update the schema file if the change is intended."
        )
