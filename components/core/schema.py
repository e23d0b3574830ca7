"""The one schema type: each column's type (int | float | string) and what is known of its
values — the fraction of rows that have one, the string values it takes, the range of its numbers.

The same type serves both roles a schema has in TFX: the schema of an Examples artifact (what the
data *is*, inferred from it, with the types it was encoded with) and the user's contract (what new
data *must be*, read from a tensorflow-metadata ``schema.pbtxt`` by
``tfpipe.components.core.contract``, which is only that file format's reader and writer). Later
components turn a schema into a tf.Transform raw feature spec. No TensorFlow here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

TYPES = ("int", "float", "string")


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: str = "int"
    # The fraction of rows with a value: observed in the data, or required by a contract.
    min_presence: float = 0.0
    # The string values: all of them (observed when they are few), or those a contract allows.
    domain: tuple[str, ...] | None = None
    # The range of the numbers: observed, or allowed by a contract (None: unbounded).
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Schema:
    columns: dict[str, ColumnSchema] = field(default_factory=dict)
    num_rows: int = 0

    @classmethod
    def of(cls, columns: list[ColumnSchema], num_rows: int = 0) -> Schema:
        return cls({c.name: c for c in columns}, num_rows)

    def column(self, name: str) -> ColumnSchema:
        return self.columns[name]

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def types(self) -> dict[str, str]:
        return {name: c.type for name, c in self.columns.items()}

    def to_json(self) -> dict[str, Any]:
        cols = []
        for c in self.columns.values():
            d = asdict(c)
            d["domain"] = list(c.domain) if c.domain is not None else None
            d["min_presence"] = round(c.min_presence, 6)
            cols.append(d)
        return {"num_rows": self.num_rows, "columns": cols}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Schema:
        cols = []
        for c in payload["columns"]:
            known = {k: v for k, v in c.items() if k in ColumnSchema.__dataclass_fields__}
            if known.get("domain") is not None:
                known["domain"] = tuple(known["domain"])
            cols.append(ColumnSchema(**known))
        return cls.of(cols, payload.get("num_rows", 0))

    @classmethod
    def load(cls, path: str) -> Schema:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))
