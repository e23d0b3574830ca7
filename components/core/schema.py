"""The schema of an Examples artifact: each column's type (int | float | string), as encoded in
its tf.Examples, with a few figures of the data it was inferred from (count, missing, min/max,
the value domain of low-cardinality strings). Later components turn it into a tf.Transform raw
feature spec. No TensorFlow here.

The *contract* new data is held to is a separate, user-owned file (a tensorflow-metadata Schema;
see ``tfpipe.components.core.contract``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

TYPES = ("int", "float", "string")


@dataclass
class ColumnSchema:
    name: str
    type: str = "int"
    count: int = 0
    missing: int = 0
    min: float | None = None
    max: float | None = None
    domain: list[str] | None = field(default_factory=list)

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
            cols.append(d)
        return {"num_rows": self.num_rows, "columns": cols}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Schema:
        cols = []
        for c in payload["columns"]:
            known = {k: v for k, v in c.items() if k in ColumnSchema.__dataclass_fields__}
            cols.append(ColumnSchema(**known))
        return cls(columns=cols, num_rows=payload.get("num_rows", 0))

    @classmethod
    def load(cls, path: str) -> Schema:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))
