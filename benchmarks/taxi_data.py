"""Deterministic taxi-trips-like CSV generator (Chicago taxi columns), streamed in chunks.

    python taxi_data.py --rows 1000000 --out /tmp/taxi_1m.csv [--seed 0] [--export]

Only numpy + pyarrow (works in both runtimes). Rows are generated in fixed chunks of CHUNK rows,
each with its own RNG stream (seed, chunk index), so the first N rows of a bigger file are the
same as a file of N rows, and memory stays at one chunk whatever --rows is.

Label (derived later, in preprocessing_fn): tips > 0.2 * fare  (~40% positive). It depends on
payment_type (strongly), company (per-company generosity), hour, trip length and pickup area.

``--export`` adds the columns a raw export of the public dataset (BigQuery's
``chicago_taxi_trips.taxi_trips``) carries and TFX's cleaned sample drops, with their
cardinalities: ``unique_key`` (40 hex digits, one per row), ``taxi_id`` (128 hex digits, a few
thousand taxis), ``trip_end_timestamp`` (text with seconds: distinct values grow with the rows),
``pickup_location`` (``POINT (lon lat)`` text) and ``comment`` (free text, mostly missing, words
from an unbounded Zipf vocabulary, a few rows of several KB). They come from their own random
stream: the other columns are the same with or without them.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

CHUNK = 100_000
N_COMPANIES = 3000
N_AREAS = 77
N_TAXIS = 9000
T0 = 1356998400  # 2013-01-01
T1 = 1609459200  # 2021-01-01

COLUMNS = [
    "trip_start_timestamp",
    "trip_start_hour",
    "trip_start_day",
    "trip_start_month",
    "trip_seconds",
    "trip_miles",
    "fare",
    "tips",
    "payment_type",
    "company",
    "pickup_community_area",
    "dropoff_community_area",
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]
PAYMENT = np.array(["Credit Card", "Cash", "No Charge", "Unknown", "Dispute", "Mobile"])
PAYMENT_P = np.array([0.50, 0.42, 0.03, 0.02, 0.01, 0.02])
_PREFIX = [
    "Flash",
    "Yellow",
    "Blue Ribbon",
    "Checker",
    "Sun",
    "City Service",
    "Star North",
    "Medallion",
    "Globe",
    "Top",
    "Chicago",
    "Lakeshore",
    "Windy",
    "Metro",
    "Royal",
    "KOAM",
    "Patriot",
    "Setare",
    "American United",
    "Choice",
]
_SUFFIX = [
    "Taxi",
    "Cab",
    "Cab Corp",
    "Taxi Association",
    "Trans Inc",
    "Enterprises",
    "Taxi Affiliation Services",
    "Cab Co., Inc.",
    "Management LLC",
    "Taxicab",
]


class _Static:
    """Fixed world: company names/effects, area centroids/popularity (seeded, not per chunk)."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 10_000_019])
        names = []
        for i in range(N_COMPANIES):
            if i < 40:
                names.append(f"{_PREFIX[i % 20]} {_SUFFIX[(i * 7) % 10]}".strip())
            else:  # like the real data: "3623 - 72222 Arrington Enterprises"
                names.append(
                    f"{1000 + i} - {rng.integers(10000, 99999)} "
                    f"{_PREFIX[rng.integers(20)]} {_SUFFIX[rng.integers(10)]}"
                )
        self.company = np.array(names, dtype=object)
        w = 1.0 / np.arange(1, N_COMPANIES + 1) ** 1.1
        self.company_p = w / w.sum()
        self.company_effect = rng.normal(0.0, 1.0, N_COMPANIES)
        self.area_lat = rng.uniform(41.66, 42.01, N_AREAS)
        self.area_lon = rng.uniform(-87.90, -87.54, N_AREAS)
        pop = rng.lognormal(0.0, 1.2, N_AREAS)
        pop[[7, 31, 27, 75]] *= 15  # downtown / O'Hare (areas 8, 32, 28, 76)
        self.area_p = pop / pop.sum()
        self.area_effect = rng.normal(0.0, 0.5, N_AREAS)
        hours = np.arange(24)
        hp = 1.0 + 0.9 * np.sin((hours - 9) / 24 * 2 * np.pi) + 0.3 * (np.abs(hours - 18) < 2)
        self.hour_p = hp / hp.sum()
        self.hour_effect = 0.6 * np.cos((hours - 2) / 24 * 2 * np.pi)
        self.taxi = np.array(
            [hashlib.sha512(f"taxi {seed} {i}".encode()).hexdigest() for i in range(N_TAXIS)],
            dtype=object,
        )
        w = 1.0 / np.arange(1, N_TAXIS + 1) ** 0.6
        self.taxi_p = w / w.sum()


def _masked(values: np.ndarray, missing: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, type=typ, mask=missing)


def chunk_table(static: _Static, seed: int, index: int, n: int, export: bool = False) -> pa.Table:
    rng = np.random.default_rng([seed, index])
    day = rng.integers(0, (T1 - T0) // 86400, n)
    hour = rng.choice(24, n, p=static.hour_p)
    ts = T0 + day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    dow = ((ts // 86400) + 4) % 7 + 1  # 1 = Sunday (1970-01-01 was a Thursday)
    month = ts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12 + 1

    pick = rng.choice(N_AREAS, n, p=static.area_p)
    drop = np.where(rng.random(n) < 0.5, pick, rng.choice(N_AREAS, n, p=static.area_p))
    pick_missing = rng.random(n) < 0.03
    drop_missing = rng.random(n) < 0.08
    plat = static.area_lat[pick] + rng.normal(0, 0.006, n)
    plon = static.area_lon[pick] + rng.normal(0, 0.006, n)
    dlat = static.area_lat[drop] + rng.normal(0, 0.006, n)
    dlon = static.area_lon[drop] + rng.normal(0, 0.006, n)
    km = np.hypot((plat - dlat) * 111.0, (plon - dlon) * 83.0)
    miles = np.maximum(0.1, km / 1.609 * 1.25 + rng.lognormal(-0.5, 0.8, n))
    traffic = 2.2 + 1.5 * ((hour >= 7) & (hour <= 19))  # minutes per mile
    seconds = np.maximum(60, miles * traffic * 60 + 120 + rng.normal(0, 90, n)).astype(np.int64)
    fare = np.round((3.25 + 2.25 * miles + 0.25 * seconds / 36 + rng.normal(0, 0.5, n)) * 4) / 4
    fare = np.maximum(3.25, fare)

    pay = rng.choice(len(PAYMENT), n, p=PAYMENT_P)
    comp = rng.choice(N_COMPANIES, n, p=static.company_p)
    logit = (
        1.9
        + static.company_effect[comp]
        + static.hour_effect[hour]
        + static.area_effect[pick]
        - 0.08 * np.minimum(miles, 20)
    )
    card = (pay == 0) | (pay == 5)
    p_big = np.where(card, 1 / (1 + np.exp(-logit)), np.where(pay == 1, 0.12, 0.0))
    big = rng.random(n) < p_big
    frac = np.where(
        big,
        0.205 + rng.exponential(0.05, n),
        np.where(card, rng.uniform(0, 0.19, n) * (rng.random(n) < 0.7), 0.0),
    )
    tips = np.round(fare * frac, 2)

    columns = {
        "trip_start_timestamp": pa.array(ts, pa.int64()),
        "trip_start_hour": pa.array(hour, pa.int64()),
        "trip_start_day": pa.array(dow, pa.int64()),
        "trip_start_month": pa.array(month, pa.int64()),
        "trip_seconds": _masked(seconds, rng.random(n) < 0.05, pa.int64()),
        "trip_miles": _masked(np.round(miles, 2), rng.random(n) < 0.02, pa.float64()),
        "fare": pa.array(fare, pa.float64()),
        "tips": pa.array(tips, pa.float64()),
        "payment_type": pa.array(PAYMENT[pay], pa.string()),
        "company": _masked(static.company[comp], rng.random(n) < 0.04, pa.string()),
        "pickup_community_area": _masked(pick + 1, pick_missing, pa.int64()),
        "dropoff_community_area": _masked(drop + 1, drop_missing, pa.int64()),
        "pickup_latitude": _masked(np.round(plat, 6), pick_missing, pa.float64()),
        "pickup_longitude": _masked(np.round(plon, 6), pick_missing, pa.float64()),
        "dropoff_latitude": _masked(np.round(dlat, 6), drop_missing, pa.float64()),
        "dropoff_longitude": _masked(np.round(dlon, 6), drop_missing, pa.float64()),
    }
    if export:
        columns.update(
            _export_columns(static, seed, index, n, ts + seconds, plat, plon, pick_missing)
        )
    return pa.table(columns)


def _export_columns(
    static: _Static,
    seed: int,
    index: int,
    n: int,
    end: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    missing: np.ndarray,
) -> dict[str, pa.Array]:
    """High-cardinality text columns of a raw export (see the module docstring)."""
    rng = np.random.default_rng([seed, index, 1])
    key = [hashlib.sha1(f"{seed}:{index * CHUNK + i}".encode()).hexdigest() for i in range(n)]
    taxi = static.taxi[rng.choice(N_TAXIS, n, p=static.taxi_p)]
    point = [f"POINT ({a:.9f} {b:.9f})" for a, b in zip(lon, lat, strict=True)]
    has_comment = rng.random(n) < 0.15
    words = rng.zipf(1.3, int(has_comment.sum()) * 4)  # unbounded vocabulary: ids grow
    lengths = rng.geometric(0.3, int(has_comment.sum()))
    long = rng.random(len(lengths)) < 1e-4  # a few rows of several KB
    lengths[long] = rng.integers(500, 2000, int(long.sum()))
    comments, at = [], 0
    for k in lengths:
        picked = words[at : at + k] if at + k <= len(words) else rng.zipf(1.3, k)
        at += k
        comments.append(" ".join(f"w{w}" for w in picked))
    comment = np.full(n, None, dtype=object)
    comment[has_comment] = comments
    return {
        "unique_key": pa.array(key, pa.string()),
        "taxi_id": _masked(taxi, rng.random(n) < 0.01, pa.string()),
        "trip_end_timestamp": pc.strftime(
            pa.array(end.astype("datetime64[s]")), format="%Y-%m-%d %H:%M:%S UTC"
        ),
        "pickup_location": _masked(np.array(point, dtype=object), missing, pa.string()),
        "comment": pa.array(comment, pa.string()),
    }


def generate(rows: int, out: str, seed: int = 0, export: bool = False) -> None:
    static = _Static(seed)
    with pacsv.CSVWriter(out, chunk_table(static, seed, 0, 1, export).schema) as writer:
        for index, start in enumerate(range(0, rows, CHUNK)):
            n = min(CHUNK, rows - start)
            table = chunk_table(static, seed, index, CHUNK, export)
            writer.write_table(table.slice(0, n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--export", action="store_true", help="add a raw export's text columns")
    a = ap.parse_args()
    t = time.time()
    generate(a.rows, a.out, a.seed, a.export)
    print(f"wrote {a.rows} rows to {a.out} in {time.time() - t:.1f}s")


if __name__ == "__main__":
    main()
