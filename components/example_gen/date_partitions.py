"""Daily partitions named by date placeholders: a window of the last N days of data.

ExampleGen's ``input`` may name a day's partition with a placeholder, as Airflow's macros do:
``/data/taxi/dt={ds}/*.csv`` (``{ds}`` is YYYY-MM-DD, ``{ds_nodash}`` YYYYMMDD, ``{ds:%Y/%m/%d}``
any ``strftime`` format; ``{{ ds }}`` is read as ``{ds}``, so a path copied from a templated
Airflow field works). With ``window_days`` N and the run's data date D, the pattern stands for N
patterns, one per day D-N+1 … D. Each day must match at least one file: a missing partition is an
error naming it, never a window quietly made of older data. Which day D is comes from the run
(``data_date``; see ``tfpipe.pipelines.data_interval`` for Airflow's data interval).

Pure functions of strings and dates: no file system access except :func:`missing_partitions`.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
from dataclasses import dataclass

from tfpipe.components.core.errors import InputDataError, ParameterError

# The placeholders and their default date formats (Airflow's macro names).
FORMATS = {"ds": "%Y-%m-%d", "ds_nodash": "%Y%m%d"}
_PLACEHOLDER = re.compile(r"\{\{\s*(?P<jinja>\w+)\s*\}\}|\{(?P<name>\w+)(?::(?P<fmt>[^{}]*))?\}")
_S3 = "s3://"


def placeholders(pattern: str) -> list[tuple[str, str]]:
    """``[(placeholder text, date format)]`` of a pattern, in order; an unknown name is refused
    naming it and the known ones (a ``{`` in a real path is unusual, and silently reading the
    literal text would match nothing)."""
    found = []
    for match in _PLACEHOLDER.finditer(pattern):
        name = match.group("jinja") or match.group("name")
        if name not in FORMATS:
            raise ParameterError(
                f"example_gen: input '{pattern}' has the placeholder '{match.group(0)}', which "
                f"is not a date placeholder; use {{ds}} (YYYY-MM-DD), {{ds_nodash}} (YYYYMMDD) "
                "or {ds:<strftime format>}, e.g. {ds:%Y/%m/%d}"
            )
        fmt = match.group("fmt") if match.group("name") and match.group("fmt") else FORMATS[name]
        found.append((match.group(0), fmt))
    return found


def is_dated(patterns: str | list[str]) -> bool:
    """Whether any pattern names a daily partition by a date placeholder."""
    return any(placeholders(p) for p in _as_list(patterns))


def expand(pattern: str, day: dt.date) -> str:
    """The pattern for one day: every placeholder replaced by the day in its format."""
    return _PLACEHOLDER.sub(lambda m: day.strftime(_format_of(m)), pattern)


def _format_of(match: re.Match[str]) -> str:
    name = match.group("jinja") or match.group("name")
    return (match.group("name") and match.group("fmt")) or FORMATS[name]


def last_whole_day(end: dt.datetime | None = None) -> dt.date:
    """The last UTC day that ended by ``end`` (default now: yesterday; a naive time is UTC): a
    run's data date, when its data interval ends at ``end``."""
    end = end or dt.datetime.now(dt.UTC)
    if end.tzinfo is not None:
        end = end.astimezone(dt.UTC).replace(tzinfo=None)
    return end.date() - dt.timedelta(days=1)


def window_days(last: dt.date, days: int) -> list[dt.date]:
    """The ``days`` consecutive days ending with ``last``, oldest first."""
    if days < 1:
        raise ParameterError(f"example_gen: window_days must be at least 1, got {days}")
    return [last - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


@dataclass(frozen=True)
class Window:
    """A run's window: its days, and what each input pattern stands for on each of them."""

    days: tuple[dt.date, ...]
    # (day, concrete pattern) for each dated pattern and day; None for an undated pattern.
    patterns: tuple[tuple[dt.date | None, str], ...]

    @property
    def first(self) -> dt.date:
        return self.days[0]

    @property
    def last(self) -> dt.date:
        return self.days[-1]

    def describe(self) -> str:
        if len(self.days) == 1:
            return f"the daily partition of {self.last.isoformat()}"
        return (
            f"the window of {len(self.days)} daily partitions {self.first.isoformat()} … "
            f"{self.last.isoformat()}"
        )

    def concrete(self) -> list[str]:
        """Every concrete pattern, each once, in window order (what ExampleGen matches)."""
        out: list[str] = []
        for _day, pattern in self.patterns:
            if pattern not in out:
                out.append(pattern)
        return out


def window(patterns: str | list[str], last: dt.date, days: int) -> Window:
    """The window of ``days`` days ending ``last`` over ``patterns``: each dated pattern expanded
    for every day (oldest first); undated patterns (e.g. a file a data drop named) kept as is."""
    span = window_days(last, days)
    items: list[tuple[dt.date | None, str]] = []
    for pattern in _as_list(patterns):
        if placeholders(pattern):
            items += [(day, expand(pattern, day)) for day in span]
        else:
            items.append((None, pattern))
    return Window(days=tuple(span), patterns=tuple(items))


def missing_partitions(win: Window) -> list[tuple[dt.date, str]]:
    """``[(day, pattern)]`` of the window's dated patterns that match no file now (local paths;
    an ``s3://`` pattern is matched, and refused by name, where ExampleGen lists the bucket)."""
    missing = []
    for day, pattern in win.patterns:
        if day is None or pattern.startswith(_S3):
            continue
        if not any(os.path.isfile(p) for p in glob.iglob(os.path.expanduser(pattern))):
            missing.append((day, pattern))
    return missing


def check_window(win: Window, when: str = "") -> None:
    """Refuse a window with a missing partition, naming every missing day's pattern, the window
    and ``when`` (e.g. the Airflow data interval it was derived from), and what to do."""
    missing = missing_partitions(win)
    if not missing:
        return
    named = "; ".join(f"{day.isoformat()} ('{pattern}')" for day, pattern in missing)
    raise InputDataError(
        f"example_gen: {win.describe()}"
        + (f" ({when})" if when else "")
        + f" lacks {len(missing)} partition(s), no file matching: {named}. The run does not "
        "train on a window without them; once the data lands, re-run this interval (Airflow: "
        "clear the failed run, or trigger it again)"
    )


def date_in_path(path: str, pattern: str) -> dt.date | None:
    """The day a file belongs to, read from its path where the dated pattern has its
    placeholders (``/data/dt={ds}/*.csv`` and ``/data/dt=2024-01-05/a.csv`` → 2024-01-05); None
    when the path does not fit the pattern or its placeholders disagree."""
    normal = _normal(pattern)
    found = placeholders(normal)
    if not found:
        return None
    regex, formats = _pattern_regex(normal, found)
    match = re.fullmatch(regex, _normal(path))
    if not match:
        return None
    days = set()
    for i, fmt in enumerate(formats):
        try:
            days.add(dt.datetime.strptime(match.group(f"d{i}"), fmt).date())
        except ValueError:
            return None
    return days.pop() if len(days) == 1 else None


def _pattern_regex(pattern: str, found: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """A regular expression for paths a dated glob matches, one group per placeholder."""
    parts, formats, rest = [], [], pattern
    for text, fmt in found:
        before, _, rest = rest.partition(text)
        parts.append(_glob_regex(before))
        wide = ".+?" if "/" in fmt else "[^/]+?"
        parts.append(f"(?P<d{len(formats)}>{wide})")
        formats.append(fmt)
    parts.append(_glob_regex(rest))
    return "".join(parts), formats


def _glob_regex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in text[i + 1 :]:
            end = text.index("]", i + 1)
            body = text[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _normal(path: str) -> str:
    return path if path.startswith(_S3) else os.path.abspath(os.path.expanduser(path))


def _as_list(patterns: str | list[str]) -> list[str]:
    return [patterns] if isinstance(patterns, str) else list(patterns)
