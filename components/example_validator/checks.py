"""Anomalies and drift, from statistics and a contract: pure functions (no TensorFlow).

Anomaly kinds (TFX ExampleValidator's, in plain words): a column the contract names is missing,
a column the contract does not know, a column with no value in any row, a type that changed
(wider: the data did not fit the contract's type; narrower: a float column arrived all whole
numbers), presence below the contract's minimum, string values outside its domain, numbers
outside its range. Each names the column, what was expected, what was found and how many rows
it affects.

Drift: the L-infinity distance between a column's distribution in the new data and in the data
the served model was trained on (TFDV's measure for categorical features; numeric columns are
compared on the old data's deciles, whose shares should each stay near 10 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfpipe.components.core.schema import Schema

KINDS = (
    "missing_column",
    "new_column",
    "type_changed",
    "type_narrowed",
    "empty_column",
    "presence_below",
    "out_of_domain",
    "out_of_range",
)


def anomalies(statistics: dict[str, Any], contract: Schema) -> list[dict[str, Any]]:
    columns = statistics["columns"]
    rows = statistics["num_rows"]
    found: list[dict[str, Any]] = []

    def add(column: str, kind: str, expected: Any, got: Any, affected: int | None) -> None:
        found.append(
            {
                "column": column,
                "kind": kind,
                "expected": expected,
                "found": got,
                "rows_affected": affected,
            }
        )

    for name, rule in contract.columns.items():
        if name not in columns:
            add(name, "missing_column", f"a column of type {rule.type}", "no such column", rows)
            continue
        stats = columns[name]
        if stats["type"] != rule.type:
            first = f", first at {stats['first_unfit']}" if stats.get("first_unfit") else ""
            add(
                name,
                "type_changed",
                rule.type,
                f"{stats['type']}{first}",
                stats.get("unfit") or stats["count"],
            )
        elif rule.type == "float" and stats.get("inferred_type") == "int" and stats["count"]:
            add(name, "type_narrowed", "float", "only whole numbers (int)", stats["count"])
        total = stats["count"] + stats["missing"]
        if total and not stats["count"]:
            add(name, "empty_column", "values in some rows", "no value in any row", total)
            continue
        presence = stats["count"] / total if total else 0.0
        if presence + 1e-12 < rule.min_presence:
            add(
                name,
                "presence_below",
                f"present in at least {rule.min_presence:.1%} of rows",
                f"present in {presence:.1%}",
                stats["missing"],
            )
        if stats.get("out_of_domain"):
            top = [v for v, _ in stats.get("top", []) if rule.domain and v not in rule.domain]
            add(
                name,
                "out_of_domain",
                f"one of {list(rule.domain or [])[:10]}",
                f"other values, e.g. {top[:5]}",
                stats["out_of_domain"],
            )
        if stats.get("out_of_range"):
            add(
                name,
                "out_of_range",
                f"within [{rule.min}, {rule.max}]",
                f"[{stats.get('min')}, {stats.get('max')}]",
                stats["out_of_range"],
            )
    for name in columns:
        if contract.columns and name not in contract.columns:
            add(name, "new_column", "no such column", f"a {columns[name]['type']} column", rows)
    return found


def allowed(anomaly: dict[str, Any], allow: list[str]) -> bool:
    """``allow`` entries: an anomaly kind, a column, or ``column:kind``."""
    return bool(
        {anomaly["kind"], anomaly["column"], f"{anomaly['column']}:{anomaly['kind']}"} & set(allow)
    )


def drift(current: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    """Per column present in both: L-infinity distance of the two distributions (0 = same)."""
    out = {}
    for name, now in current.items():
        then = baseline.get(name)
        if not then or now.get("type") != then.get("type"):
            continue
        if now.get("quantiles") and then.get("quantiles"):
            out[name] = _numeric_drift(now["quantiles"], then["quantiles"])
        elif now.get("values") and then.get("values"):
            out[name] = _categorical_drift(now["values"], then["values"])
    return out


def _categorical_drift(now: dict[str, int], then: dict[str, int]) -> float:
    keys = sorted(set(now) | set(then))
    a = np.array([now.get(k, 0) for k in keys], float)
    b = np.array([then.get(k, 0) for k in keys], float)
    return float(np.abs(a / max(a.sum(), 1) - b / max(b.sum(), 1)).max())


def _numeric_drift(now: list[float], then: list[float]) -> float:
    """The share of the new data in each of the old data's decile bins, vs the 10 % expected."""
    deciles = np.unique(np.asarray(then, float))
    if len(deciles) < 2:
        return 0.0
    levels = np.linspace(0, 1, len(now))
    cdf = np.interp(deciles, np.asarray(now, float), levels, left=0.0, right=1.0)
    expected = np.interp(deciles, np.asarray(then, float), np.linspace(0, 1, len(then)))
    return float(np.abs(np.diff(cdf) - np.diff(expected)).max())
