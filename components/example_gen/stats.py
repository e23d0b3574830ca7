"""Per-split column statistics, accumulated over Arrow record batches in bounded memory.

Per column: count, missing, min / max / mean / std of numbers (Chan's parallel form of Welford's
update, merged batch by batch and split by split: a mean of squares minus a squared mean loses
every digit for values like 1e9 ± 1), value counts of integers and strings
(dropped once a column has more than ``TRACK_DISTINCT`` distinct values), whether every number
was a whole number (a float column that arrived all-integer), a histogram from a bounded uniform
sample (the ``SAMPLE`` smallest row hashes: deterministic), and, given a contract, how many rows
fall outside its string domain or numeric range. The Examples' schema, the inferred contract, the
validator's anomalies and the report's plots and drift all come from these figures.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tfpipe.components.core.schema import ColumnSchema

TRACK_DISTINCT = 10_000
SAMPLE = 20_000
TOP = 20
BINS = 10
# Text that parses as the contract's number type (what the validator counts as fitting).
NUMBER = {
    "int": r"^\s*[-+]?\d+\s*$",
    "float": r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(inf|nan)\s*$",
}


def arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    return "string"


class ColumnStats:
    def __init__(self, name: str, contract: ColumnSchema | None = None) -> None:
        self.name = name
        self.contract = contract
        self.count = self.missing = 0
        self.min: float | None = None
        self.max: float | None = None
        self.non_finite = 0  # inf and NaN values: in min/max, not in mean, std, histogram
        self.numbers = 0  # how many (finite) values the mean and m2 summarise
        self.mean = self.m2 = 0.0  # running mean and sum of squared deviations from it
        self.whole = True  # every number seen was integral
        self.kind = "null"
        self.values: Counter | None = Counter()
        self.sample_hash = np.empty(0, np.uint64)
        self.sample = np.empty(0, np.float64)
        self.out_of_domain = self.out_of_range = self.unfit = 0

    def add(self, col: pa.Array, hashes: np.ndarray) -> None:
        n, nulls = len(col), col.null_count
        self.missing += nulls
        self.count += n - nulls
        if n == nulls:
            return
        self.kind = arrow_kind(col.type)
        present = col.drop_null() if nulls else col
        if self.kind in ("int", "float"):
            floats = present.cast(pa.float64(), safe=False)  # int64 beyond 2**53 too
            bounds = pc.min_max(floats)
            lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
            self.min = lo if self.min is None else min(self.min, lo)
            self.max = hi if self.max is None else max(self.max, hi)
            values = floats.to_numpy()
            finite = np.isfinite(values)
            if not finite.all():  # inf / NaN: counted, left out of the distribution figures
                self.non_finite += int((~finite).sum())
                kept = values[finite]
            else:
                kept = values
            if len(kept):
                with np.errstate(over="ignore", invalid="ignore"):  # |x| > 1e154: std is inf
                    mean = float(kept.mean())
                    self._fold(len(kept), mean, float(np.square(kept - mean).sum()))
            if self.kind == "float" and self.whole:
                self.whole = bool(np.all(np.floor(kept) == kept))
            row_hashes = hashes[~np.asarray(col.is_null())] if nulls else hashes
            self._sample(kept, row_hashes[finite] if len(kept) < len(values) else row_hashes)
        if self.values is not None and self.kind != "float":
            counts = pc.value_counts(present)
            for value, c in zip(
                counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True
            ):
                self.values[str(value)] += c
            if len(self.values) > TRACK_DISTINCT:
                self.values = None
        if self.contract is not None:
            self._check(present)

    def _fold(self, n: int, mean: float, m2: float) -> None:
        """Combine (count, mean, m2) of more values into the running figures (Chan et al.)."""
        if not n:
            return
        total = self.numbers + n
        with np.errstate(over="ignore", invalid="ignore"):
            delta = mean - self.mean
            self.mean += delta * n / total
            self.m2 += m2 + delta * delta * self.numbers * n / total
        self.numbers = total

    def _sample(self, values: np.ndarray, hashes: np.ndarray) -> None:
        """Keep the values of the SAMPLE smallest row hashes: a uniform, reproducible sample."""
        h = np.concatenate([self.sample_hash, hashes])
        v = np.concatenate([self.sample, values])
        if len(h) > SAMPLE:
            keep = np.argpartition(h, SAMPLE)[:SAMPLE]
            h, v = h[keep], v[keep]
        self.sample_hash, self.sample = h, v

    def _check(self, present: pa.Array) -> None:
        c = self.contract
        assert c is not None
        if c.type in NUMBER and self.kind == "string":  # text where the contract wants numbers
            fits = pc.match_substring_regex(present, NUMBER[c.type])
            self.unfit += len(present) - int(pc.sum(fits).as_py() or 0)
        if c.domain is not None:
            text = present if pa.types.is_string(present.type) else present.cast(pa.string())
            inside = pc.is_in(text, value_set=pa.array(list(c.domain), pa.string()))
            self.out_of_domain += len(present) - int(pc.sum(inside).as_py() or 0)
        if self.kind in ("int", "float") and (c.min is not None or c.max is not None):
            values = present.cast(pa.float64(), safe=False)  # int64 beyond 2**53 too
            outside = pa.array(np.zeros(len(values), bool))
            if c.min is not None:
                outside = pc.or_(outside, pc.less(values, c.min))
            if c.max is not None:
                outside = pc.or_(outside, pc.greater(values, c.max))
            self.out_of_range += int(pc.sum(outside).as_py() or 0)

    def merge(self, other: ColumnStats) -> None:
        """Fold another split's figures in (for the overall statistics)."""
        self.count += other.count
        self.missing += other.missing
        if other.kind != "null":
            self.kind = other.kind
        for attr, pick in (("min", min), ("max", max)):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            if theirs is not None:
                setattr(self, attr, theirs if mine is None else pick(mine, theirs))
        self._fold(other.numbers, other.mean, other.m2)
        self.non_finite += other.non_finite
        self.whole = self.whole and other.whole
        if self.values is not None and other.values is not None:
            self.values.update(other.values)
            if len(self.values) > TRACK_DISTINCT:
                self.values = None
        else:
            self.values = None
        self._sample(other.sample, other.sample_hash)
        self.out_of_domain += other.out_of_domain
        self.out_of_range += other.out_of_range
        self.unfit += other.unfit

    def to_json(self, encoded_type: str) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": encoded_type,
            "inferred_type": "int"
            if self.kind == "float" and self.whole and self.count
            else (self.kind if self.kind != "null" else encoded_type),
            "count": self.count,
            "missing": self.missing,
        }
        if self.kind in ("int", "float") and self.count:
            d.update(
                min=self.min,
                max=self.max,
                mean=self.mean if self.numbers else None,
                std=float(np.sqrt(self.m2 / self.numbers)) if self.numbers else None,
                histogram=_histogram(self.sample, self.min, self.max),
                quantiles=np.quantile(self.sample, np.linspace(0, 1, 11)).tolist()
                if len(self.sample)
                else [],
            )
        if self.non_finite:
            d["non_finite"] = self.non_finite
        if self.values is not None and self.kind != "float":  # float values are not counted
            d["distinct"] = len(self.values)
            d["top"] = [[v, c] for v, c in self.values.most_common(TOP)]
            d["values"] = dict(self.values) if len(self.values) <= 1000 else None
        else:
            d["distinct"] = None
        if self.contract is not None:
            d["out_of_domain"] = self.out_of_domain
            d["out_of_range"] = self.out_of_range
            if self.unfit:
                d["unfit"] = self.unfit
        return d


def _histogram(sample: np.ndarray, lo: float | None, hi: float | None) -> dict[str, Any]:
    """Bins over [min, max] (the finite part of the sample's range when a bound is infinite);
    one bin when the range is too narrow (or too wide) to split in float64."""
    if lo is None or hi is None or not len(sample):
        return {"edges": [], "counts": []}
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = float(sample.min()), float(sample.max())
    if lo == hi:
        hi = lo + 1.0
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            counts, edges = np.histogram(sample, bins=BINS, range=(lo, hi))
    except ValueError:
        counts, edges = np.array([len(sample)]), np.array([lo, hi])
    return {"edges": edges.tolist(), "counts": counts.tolist(), "sampled": len(sample)}


class SplitStats:
    """The statistics of every column of one split."""

    def __init__(self, names: list[str], contract: dict[str, ColumnSchema]) -> None:
        self.rows = 0
        self.columns = {n: ColumnStats(n, contract.get(n)) for n in names}

    def add(self, batch: pa.RecordBatch, hashes: np.ndarray) -> None:
        self.rows += batch.num_rows
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            self.columns[name].add(col, hashes)

    def merge(self, other: SplitStats) -> None:
        """Fold in the figures of the same split from another part of the input (another file)."""
        self.rows += other.rows
        for name, column in other.columns.items():
            if name not in self.columns:
                self.columns[name] = ColumnStats(name, column.contract)
            self.columns[name].merge(column)

    def to_json(self, types: dict[str, str]) -> dict[str, Any]:
        return {
            "num_rows": self.rows,
            "columns": {n: s.to_json(types[n]) for n, s in self.columns.items()},
        }


def stats_state(splits: dict[str, SplitStats]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Everything :meth:`SplitStats.merge` needs, to keep beside a drop and merge into any
    window later: the figures as JSON, the samples as arrays (``np.savez``, no pickle)."""
    figures: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for k, (split, s) in enumerate(splits.items()):
        columns = {}
        for i, (name, c) in enumerate(s.columns.items()):
            columns[name] = {
                "count": c.count,
                "missing": c.missing,
                "min": c.min,
                "max": c.max,
                "non_finite": c.non_finite,
                "numbers": c.numbers,
                "mean": c.mean,
                "m2": c.m2,
                "whole": c.whole,
                "kind": c.kind,
                "values": dict(c.values) if c.values is not None else None,
                "out_of_domain": c.out_of_domain,
                "out_of_range": c.out_of_range,
                "unfit": c.unfit,
                "sample": f"s{k}c{i}",
            }
            arrays[f"s{k}c{i}hash"] = c.sample_hash
            arrays[f"s{k}c{i}value"] = c.sample
        figures[split] = {"rows": s.rows, "columns": columns}
    return figures, arrays


def stats_from_state(
    figures: dict[str, Any], arrays: Any, contract: dict[str, ColumnSchema]
) -> dict[str, SplitStats]:
    """The inverse of :func:`stats_state` (``arrays``: what ``np.load`` gives back)."""
    out: dict[str, SplitStats] = {}
    for split, state in figures.items():
        s = SplitStats([], contract)
        s.rows = state["rows"]
        for name, f in state["columns"].items():
            c = ColumnStats(name, contract.get(name))
            c.count, c.missing, c.min, c.max = f["count"], f["missing"], f["min"], f["max"]
            c.non_finite, c.numbers, c.mean, c.m2 = (
                f["non_finite"],
                f["numbers"],
                f["mean"],
                f["m2"],
            )
            c.whole, c.kind = f["whole"], f["kind"]
            c.values = Counter(f["values"]) if f["values"] is not None else None
            c.out_of_domain, c.out_of_range, c.unfit = (
                f["out_of_domain"],
                f["out_of_range"],
                f["unfit"],
            )
            c.sample_hash = np.asarray(arrays[f"{f['sample']}hash"], np.uint64)
            c.sample = np.asarray(arrays[f"{f['sample']}value"], np.float64)
            s.columns[name] = c
        out[split] = s
    return out
