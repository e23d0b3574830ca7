"""Fast tests of what the Airflow UI shows and how it is built: the report's escaping and policy,
the run note's Markdown, the Pusher's lines, the trigger card in the serialized DAG, the schedule
that unpausing does not start, and a step record that cannot be lost silently. The same things in
a real browser against a live Airflow: tests/test_airflow_ui.py."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import re
from datetime import UTC, datetime

import pytest

from tfpipe.components.core.presentation import render, section, table
from tfpipe.pipelines.runs import RunLog

MARKUP = '<script>alert(1)</script>"onerror="x'


def test_report_fragments_escape_every_value_and_a_plain_string_section():
    cell = table(("column", "value"), [(MARKUP, 1.23456), ("ok", render("<b>{{ v }}</b>", v="x"))])
    assert "<script>" not in cell and "&lt;script&gt;alert(1)&lt;/script&gt;&#34;onerror" in cell
    assert "<td>1.235</td>" in cell and "<td><b>x</b></td>" in cell  # fragments stay HTML
    # A section handed a plain string shows its tags as text: a forgotten template cannot
    # turn into markup.
    assert "&lt;p&gt;" in section(MARKUP, "<p>raw</p>")
    assert "<h2>&lt;script&gt;" in section(MARKUP)


def test_the_report_page_allows_no_script_and_names_its_own_style(tmp_path):
    from tfpipe.pipelines.report.render import CSP, CSP_HEADER, STYLE, render_page

    run = RunLog(str(tmp_path), "p", "manual__2026-01-01T00:00:00+00:00")
    run.start({"plan": [], "runner": "airflow", "overrides": {"data": MARKUP}})
    record = run.assemble(final=True)
    page = render_page(record, run)
    assert "<script" not in page and "&lt;script&gt;" in page
    # The title shows the orchestrator's run id, not the directory name.
    assert "tfpipe run <code>manual__2026-01-01T00:00:00+00:00</code>" in page
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert style == STYLE
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CSP
    assert CSP.startswith("default-src 'none'") and "script-src" not in CSP
    assert CSP_HEADER.endswith("frame-ancestors 'self'")
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert meta and meta.group(1).replace("&#39;", "'") == CSP


def test_the_pushers_line_says_what_this_run_did():
    from tfpipe.components.pusher import SPEC

    pushed = {"pushed": True, "version": 7, "destination": "/s/7"}
    same = {"pushed": False, "version": 7, "destination": "/s/7", "reason": "already serving"}
    refused = {"pushed": False, "reason": "model not blessed: accuracy=0.5 outside [0.9, 1]"}
    line = lambda status, summary: SPEC.describe({"status": status, "summary": summary})  # noqa: E731
    assert line("executed", pushed) == "pushed version 7 → /s/7"
    assert line("executed", same) == "already serving version 7 → /s/7"
    assert line("executed", refused) == f"refused: {refused['reason']}"
    cached = line("cached", pushed)  # an earlier run pushed it: this one pushed nothing
    assert cached.startswith("already serving version 7") and "pushed version" not in cached
    assert line("cached", refused).startswith("refused")


def test_the_run_note_is_markdown_with_the_report_link_first_and_data_shown_as_text(
    tmp_path, monkeypatch
):
    from tfpipe.pipelines.airflow_plugin import run_note
    from tfpipe.pipelines.triggers import TriggerCard

    monkeypatch.setenv("TFPIPE_HOME", str(tmp_path))
    run_id = "manual__2026-01-01T00:00:00+00:00"
    run = RunLog(str(tmp_path), "penguins", run_id)
    plan = [
        {"step": s, "component": c}
        for s, c in (
            ("example_gen", "example_gen"),
            ("evaluator", "evaluator"),
            ("pusher", "pusher"),
        )
    ]
    run.start({"plan": plan})
    run.write_step(
        {"step": "example_gen", "component": "example_gen", "status": "failed", "error": MARKUP}
    )
    run.write_step(
        {
            "step": "evaluator",
            "component": "evaluator",
            "status": "cached",
            "summary": {"blessed": True, "metrics": {"accuracy": 0.98}},
        }
    )
    run.write_step(
        {
            "step": "pusher",
            "component": "pusher",
            "status": "cached",
            "summary": {"pushed": True, "version": 7, "destination": "/s/p_7"},
        }
    )
    run.save(run.assemble(final=True))
    card = TriggerCard("penguins", ())
    note = run_note(card, "penguins", run_id)
    head, body = note.split("\n\n", 1)
    assert head.startswith("**tfpipe: failed** in ")
    assert head.endswith(
        "[open the run report](/tfpipe/reports/penguins/manual__2026-01-01T00%3A00%3A00%2B00%3A00)"
    )
    lines = body.splitlines()
    assert lines[0] == r'- **example\_gen** failed: \<script\>alert\(1\)\</script\>"onerror="x'
    assert lines[1] == r"- **evaluator**: BLESSED accuracy=0.98"
    assert lines[2] == r"- **pusher**: already serving version 7 → /s/p\_7 \(nothing new to push\)"
    assert len(note) <= 1000


def test_a_step_record_that_cannot_reach_xcom_fails_the_task(tmp_path):
    """With several workers the report task reads other workers' step records from XCom: a push
    that fails must fail the task (its retry finds the step cached and pushes again), not vanish."""
    from tfpipe.pipelines.airflow_dag import record_step

    class RefusingXCom:  # Airflow's TaskInstance, as its XCom push fails (e.g. the API is down)
        def xcom_push(self, key, value):
            raise ConnectionError("execution API unreachable")

    run = RunLog(str(tmp_path), "p", "r1")
    record = {"step": "trainer", "component": "trainer", "status": "executed"}
    with pytest.raises(ConnectionError, match="unreachable"):
        record_step(run, record, RefusingXCom())
    assert run.steps()["trainer"]["status"] == "executed"  # still written locally


def _dag(tmp_path, monkeypatch, body: str = ""):
    """A tfpipe DAG built from a pipeline file, as Airflow stores it (serialized and back)."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    from airflow.serialization.serialized_objects import DagSerialization

    from tfpipe.airflow import build_dag

    pipeline_file = tmp_path / "my_pipeline.py"
    pipeline_file.write_text(
        "from tfpipe.pipelines.penguins.pipeline import build as penguins\n"
        f"{body}\n"
        "def build(home):\n    return penguins(home)\n"
    )
    dag = build_dag(str(pipeline_file), dag_id="mine", home=str(tmp_path / "home"))
    return DagSerialization.from_dict(DagSerialization.to_dict(dag)), pipeline_file


def test_the_trigger_card_travels_in_the_serialized_dag_and_needs_no_pipeline_file(
    tmp_path, monkeypatch
):
    from tfpipe.pipelines.airflow_plugin import card_of

    serialized, pipeline_file = _dag(tmp_path, monkeypatch)
    pipeline_file.unlink()  # what the API server checks with runs no user code
    card = card_of(serialized)
    assert card is not None and card.pipeline == "penguins"
    assert card.check(str(tmp_path), {"data": None, "train_steps": 200}, "conf") == []
    problems = card.check(str(tmp_path), {"trian_steps": 1, "data": "/etc/passwd"}, "conf")
    assert "did you mean 'train_steps'" in problems[0] and "outside the data roots" in problems[1]
    assert sorted(serialized.tags) == ["tfpipe"]  # the user's tags only
    assert card_of(type("OtherDag", (), {"default_args": {"retries": 1}})()) is None


def test_unpausing_a_dag_that_never_ran_on_its_schedule_starts_nothing(tmp_path, monkeypatch):
    """The trigger form unpauses the DAG alongside the trigger: the first scheduled run must be in
    the future, whatever the trigger's fate (with a start date in the past, Airflow would start
    the latest scheduled time at once)."""
    from airflow.timetables.base import TimeRestriction

    serialized, _ = _dag(tmp_path, monkeypatch)
    restriction = TimeRestriction(earliest=serialized.start_date, latest=None, catchup=False)
    first = serialized.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction
    )
    assert first.run_after > datetime.now(UTC)
    assert os.environ["AIRFLOW_HOME"].startswith(str(tmp_path))


def test_float_columns_show_no_distinct_count_they_never_took():
    import numpy as np
    import pyarrow as pa

    from tfpipe.components.example_gen.stats import ColumnStats

    floats, ints = ColumnStats("bill_length_mm"), ColumnStats("year")
    floats.add(pa.array([39.1, 39.5, 40.3]), np.arange(3, dtype=np.uint64))
    ints.add(pa.array([2007, 2007, 2008]), np.arange(3, dtype=np.uint64))
    assert floats.to_json("float")["distinct"] is None  # shown as "—", not 0
    assert ints.to_json("int")["distinct"] == 2


def test_the_pipeline_graph_holds_its_arcs(monkeypatch):
    """Arcs that skip steps pass above the boxes: every one inside the figure, none clipped."""
    from tfpipe.pipelines.report import dag

    figures = []
    monkeypatch.setattr(dag, "figure_uri", lambda fig: figures.append(fig) or "")
    names = ["example_gen", "example_validator", "transform", "trainer", "evaluator", "pusher"]
    steps = [{"step": n, "status": "executed", "seconds": 1.0} for n in names]
    edges = list(itertools.pairwise(names))
    edges += [("example_gen", "transform"), ("example_gen", "evaluator"), ("trainer", "pusher")]
    dag.dag_figure(steps, edges)
    fig = figures[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    frame = ax.get_window_extent()
    arcs = [a.arrow_patch.get_window_extent() for a in ax.texts if hasattr(a, "arrow_patch")]
    assert len(arcs) == len(edges)
    for arc in arcs:  # the axes clip what lies outside them
        assert frame.y0 - 1 <= arc.y0 and arc.y1 <= frame.y1 + 1, (arc, frame)
        assert frame.x0 - 1 <= arc.x0 and arc.x1 <= frame.x1 + 1, (arc, frame)
