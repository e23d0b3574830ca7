"""Penguins-like CSVs of any size: real rows resampled with noise, missing values kept."""

from __future__ import annotations

import csv
import random


def write_penguins_like(source_csv: str, target_csv: str, rows: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    with open(source_csv, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        base = list(reader)
    numeric = {i for i, name in enumerate(header) if name.endswith(("_mm", "_g"))}
    with open(target_csv, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for _ in range(rows):
            row = list(rng.choice(base))
            for i in numeric:
                if row[i] != "NA":
                    row[i] = f"{float(row[i]) * rng.uniform(0.97, 1.03):.1f}"
            out.writerow(row)
    return target_csv
