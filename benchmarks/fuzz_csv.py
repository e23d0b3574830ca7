"""Fuzz the CSV → tf.Example path (ExampleGen, in process) with hypothesis-generated files.

    .venvs/dev/bin/python benchmarks/fuzz_csv.py --minutes 10 [--seed 0] [--out DIR]

Each input is a CSV file: mostly well-formed (written by ``csv.writer`` from generated header
names and cells: unicode, quotes, commas and newlines inside fields, names of 120-300 characters,
empty strings, int64 extremes and integers beyond them, floats incl. NaN/inf/overflow to float32,
strings up to 1 MB, missing values, columns that change type late), sometimes hostile text or
bytes (stray quotes, ragged rows, invalid UTF-8, NUL, BOMs, an empty file). ExampleGen runs on it
through ``resolve`` + ``execute``, as a pipeline step does. Every input must either

- succeed, with every written tf.Example parsing back (``tf.train.Example``) to exactly the CSV's
  values as the schema ExampleGen reports types them (a missing value: an absent feature), or
- fail with a tfpipe error (a message for the user, naming what is wrong).

Anything else counts: a crash (any other exception), a mismatch (bytes that parse back to other
values), a hang (an input over ``--timeout`` seconds). The script prints inputs tried, minutes,
the outcomes and the peak RSS, writes them as JSON, and saves every failing input under ``--out``.
Figures are in the README ("Hostile values in data").
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tfpipe.components.core.errors import TfpipeError  # noqa: E402
from tfpipe.components.core.runtime import apply_runtime_environment  # noqa: E402

NA = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")  # ExampleGen's default na_values

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
LONG_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=120, max_size=300)
NAMES = st.one_of(TEXT, LONG_TEXT, st.sampled_from(["a", "x y", " pad ", "ö" * 70, "\ufeffbom"]))
INTS = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([-(2**63), 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
).map(str)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e39", "-1e39", "1e-50", "inf", "-inf", "0.1", "-0.0", "1E5", ".5"]),
)
LONG = st.sampled_from([1 << 10, 1 << 14, 1 << 17, 1 << 20]).map(lambda n: "x" * n)
STRINGS = st.one_of(
    TEXT,
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
    st.sampled_from(['"', '""', ",", "\n", "\r\n", " lead", "trail ", "<script>", "\\", "\t"]),
    st.integers(0, 19).flatmap(lambda k: LONG if k == 0 else TEXT),  # now and then up to 1 MB
)
CELLS = {"int": INTS, "float": FLOATS, "string": STRINGS}


@st.composite
def csv_files(draw: Any) -> tuple[bytes, bool]:
    """(the file, whether it is well-formed: its values are then checked after the round trip)"""
    if draw(st.integers(0, 9)) == 0:  # hostile bytes: only a crash or a hang is wrong here
        blob = draw(
            st.one_of(
                st.binary(max_size=400),
                st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
                st.lists(
                    st.sampled_from(["a,b\n", '1,"2\n', "3,4,5\n", "\x00,\n", "\xff\n", '"",""\n']),
                    max_size=20,
                ).map(lambda lines: "".join(lines).encode("latin-1", "replace")),
            )
        )
        return blob, False
    names = draw(
        st.lists(NAMES, min_size=1, max_size=6, unique_by=lambda n: n.strip())
        if draw(st.integers(0, 9))  # now and then repeated or empty names (refused)
        else st.lists(NAMES, min_size=1, max_size=6)
    )
    rows = draw(st.integers(0, 40))
    columns = []
    for _ in names:
        kind = draw(st.sampled_from(sorted(CELLS)))
        cells = st.one_of(CELLS[kind], st.sampled_from(NA))
        if draw(st.booleans()):  # a column whose type changes late
            cells = st.one_of(cells, CELLS[draw(st.sampled_from(sorted(CELLS)))])
        columns.append(draw(st.lists(cells, min_size=rows, max_size=rows)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # fields with \r or \n are quoted
    writer.writerow(names)
    for i in range(rows):
        writer.writerow([col[i] for col in columns])
    return out.getvalue().encode("utf-8"), True


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang()


def expected_rows(text: bytes, schema: dict[str, str]) -> list[dict[str, Any]]:
    """The CSV's rows as the schema types them (Python's csv module: an independent parser)."""
    reader = csv.reader(io.StringIO(text.decode("utf-8-sig"), newline=""))
    header = [h.strip() for h in next(reader)]
    rows = []
    for cells in reader:
        row: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if cell in NA or schema.get(name) is None:
                continue
            kind = schema[name]
            if kind == "int":
                row[name] = int(cell)
            elif kind == "float":
                with np.errstate(over="ignore"):
                    row[name] = float(np.float32(float(cell)))
            else:
                row[name] = cell.encode("utf-8")
        rows.append(row)
    return rows


def written_rows(uri: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    import tensorflow as tf

    from tfpipe.components.artifacts import Examples, open_artifact
    from tfpipe.components.core.tfrecord import read_records

    examples = open_artifact(uri, Examples)
    schema = {c.name: c.type for c in examples.schema().columns}
    rows = []
    for split in examples.splits():
        for path in examples.split_files(split):
            for record in read_records(path):
                example = tf.train.Example.FromString(record)
                row = {}
                for name, feature in example.features.feature.items():
                    values = list(getattr(feature, feature.WhichOneof("kind")).value)
                    if len(values) != 1:
                        raise AssertionError(f"feature {name!r} has {len(values)} values")
                    row[name] = values[0]
                rows.append(row)
    return rows, schema


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if sorted(a) != sorted(b):
        return False
    for name, x in a.items():
        y = b[name]
        if isinstance(x, float) and math.isnan(x):
            if not (isinstance(y, float) and math.isnan(y)):
                return False
        elif x != y:
            return False
    return True


class Fuzz:
    def __init__(self, out: str, timeout: int) -> None:
        self.out, self.timeout = out, timeout
        self.work = tempfile.mkdtemp(prefix="tfpipe-fuzz-")
        os.environ["TFPIPE_CACHE"] = os.path.join(self.work, "cache")
        self.tried = 0
        self.outcomes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.bytes_in = 0

    def one(self, blob: bytes, checked: bool) -> None:
        from tfpipe.components.core.execute import execute, resolve

        self.tried += 1
        self.bytes_in += len(blob)
        case = os.path.join(self.work, f"case-{self.tried}")
        os.makedirs(case)
        path = os.path.join(case, "data.csv")
        with open(path, "wb") as f:
            f.write(blob)
        signal.alarm(self.timeout)
        try:
            inv = resolve(
                component="example_gen",
                step="example_gen",
                raw_params={"input": path, "split_ratios": {"all": 1}},
                input_uris={},
                input_fingerprints={},
                runtime="modern",
                artifacts_root=os.path.join(case, "store"),
            )
            result = execute(inv, "fuzz")
            got, schema = written_rows(result["uri"])
            if not checked:
                self.outcomes["hostile bytes accepted"] += 1
            elif [same(e, g) for e, g in zip(expected_rows(blob, schema), got, strict=True)] != [
                True
            ] * len(got):
                self.fail("mismatch", blob, "written examples differ from the CSV")
            else:
                self.outcomes["round-trip equal"] += 1
        except TfpipeError as exc:
            self.outcomes["refused with a tfpipe error"] += 1
            self.refusals[_kind(str(exc))] += 1
        except Hang:
            self.fail("hang", blob, f"over {self.timeout} s")
        except Exception:
            self.fail("crash", blob, traceback.format_exc())
        finally:
            signal.alarm(0)
            shutil.rmtree(case, ignore_errors=True)

    def fail(self, kind: str, blob: bytes, detail: str) -> None:
        self.outcomes[kind] += 1
        os.makedirs(self.out, exist_ok=True)
        saved = os.path.join(self.out, f"{kind}-{len(self.failures)}.csv")
        with open(saved, "wb") as f:
            f.write(blob)
        self.failures.append({"kind": kind, "input": saved, "detail": detail[-2000:]})
        print(f"{kind}: {saved}\n{detail}", file=sys.stderr)


def _kind(message: str) -> str:
    """A refusal's kind, for the summary (the message without its file and line)."""
    for key in (
        "not UTF-8",
        "is empty",
        "empty header",
        "repeats column",
        "fields, got",
        "no data rows",
        "cannot read",
        "matches no file",
    ):
        if key in message:
            return key
    return message[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per input (a hang)")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "tfpipe-fuzz-fail"))
    args = parser.parse_args()
    apply_runtime_environment("modern")
    csv.field_size_limit(sys.maxsize)  # the oracle reads 1 MB fields too
    signal.signal(signal.SIGALRM, _alarm)
    import tensorflow  # noqa: F401  (the parser of the written examples; imported once)

    fuzz = Fuzz(args.out, args.timeout)
    start = time.perf_counter()
    deadline = start + args.minutes * 60
    rounds = 0
    while time.perf_counter() < deadline:

        @seed(args.seed * 1_000_003 + rounds)
        @settings(
            max_examples=200,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(csv_files())
        def round_(case: tuple[bytes, bool]) -> None:
            if time.perf_counter() < deadline:
                fuzz.one(*case)

        round_()
        rounds += 1
    minutes = (time.perf_counter() - start) / 60
    summary = {
        "inputs_tried": fuzz.tried,
        "minutes": round(minutes, 1),
        "input_mb": round(fuzz.bytes_in / 1e6, 1),
        "outcomes": dict(fuzz.outcomes),
        "refusals": dict(fuzz.refusals.most_common()),
        "crashes": fuzz.outcomes["crash"],
        "mismatches": fuzz.outcomes["mismatch"],
        "hangs": fuzz.outcomes["hang"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "failures": fuzz.failures,
    }
    shutil.rmtree(fuzz.work, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    sys.exit(1 if fuzz.failures else 0)


if __name__ == "__main__":
    main()
