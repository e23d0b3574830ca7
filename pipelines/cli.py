"""``tfpipe``: run pipelines locally and look at their runs.

tfpipe run penguins [--set trainer.train_steps=200 ...]
tfpipe score penguins --data 'drop/*.csv' --out scores/ [--model-version N|latest]
                      [--passthrough id,ts] [--format parquet|csv|tfrecord]
tfpipe runs [pipeline]
tfpipe show <run-id | latest> [pipeline]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tfpipe.components.core.errors import TfpipeError
from tfpipe.pipelines.definition import parse_assignment
from tfpipe.pipelines.home import default_home
from tfpipe.pipelines.local_runner import Events, run_pipeline
from tfpipe.pipelines.registry import load_pipeline
from tfpipe.pipelines.report.render import summary_line
from tfpipe.pipelines.runs import RunLog, find_run, list_runs

STATUS_STYLE = {"executed": "green", "cached": "cyan", "failed": "bold red", "not run": "dim"}


def console_events(console: Console) -> Events:
    def planned(plan: list[Any], pending: list[str]) -> None:
        if not pending:
            console.print(f"all {len(plan)} steps cached: nothing to execute")
        else:
            console.print(f"{len(pending)} of {len(plan)} steps to execute: {', '.join(pending)}")

    def started(step: str) -> None:
        console.print(f"[bold]▶ {step}[/bold]")

    def progress(step: str, message: str) -> None:
        console.print(f"  [dim]{step}: {escape(message)}[/dim]", highlight=False)

    def finished(s: dict[str, Any]) -> None:
        status = s.get("status", "?")
        style = STATUS_STYLE.get(status, "")
        seconds = f"{s.get('seconds', 0):6.1f}s" if "seconds" in s else "       "
        line = escape(summary_line(s)) if status != "failed" else ""
        console.print(
            f"[{style}]{'✓' if status in ('executed', 'cached') else '✗'} "
            f"{s['step']:<12} {status:<8}[/{style}] {seconds}  {line}",
            highlight=False,
        )
        if status == "failed":
            console.print(
                f"[bold red]error in step '{s['step']}':[/bold red] {escape(str(s.get('error')))}",
                highlight=False,
            )

    return Events(planned=planned, started=started, progress=progress, finished=finished)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    overrides = dict(parse_assignment(item) for item in args.set)
    pipeline = load_pipeline(args.pipeline, args.home).with_overrides(overrides)
    console.print(
        f"[bold]tfpipe run {pipeline.name}[/bold] (runtime {pipeline.runtime}, home {args.home})"
    )
    record = run_pipeline(
        pipeline, args.home, run_id=args.run_id, overrides=overrides, events=console_events(console)
    )
    if record["status"] != "succeeded":
        if record.get("error"):
            console.print(
                f"[bold red]run failed:[/bold red] {escape(record['error'])}", highlight=False
            )
        if record.get("report"):
            console.print(f"report: {record['report']}")
        for log in record.get("worker_logs", []):
            console.print(f"worker log: {log}")
        console.print(f"run {record['run_id']} [bold red]FAILED[/bold red]")
        return 1
    if record.get("report"):
        console.print(f"report: {record['report']}")
    executed = len(record["executed"])
    console.print(
        f"run {record['run_id']} [green]succeeded[/green] in {record['seconds']:.1f}s "
        f"({executed} executed, {len(record['steps']) - executed} cached)"
    )
    return 0


def cmd_score(args: argparse.Namespace, console: Console) -> int:
    """Score data with the pipeline's served model (its scoring pipeline, run locally), then
    commit a copy of the predictions to ``--out``."""
    from tfpipe.components.artifacts import copy_committed, open_artifact
    from tfpipe.pipelines.registry import SCORING

    overrides: dict[str, Any] = dict(parse_assignment(item) for item in args.set)
    overrides["data"] = args.data
    if args.model_version is not None:
        version = args.model_version
        overrides["model_version"] = version if version == "latest" else _version(version)
    if args.passthrough is not None:
        overrides["passthrough"] = [c.strip() for c in args.passthrough.split(",") if c.strip()]
    if args.format:
        overrides["output_format"] = args.format
    pipeline = load_pipeline(SCORING + args.pipeline, args.home).with_overrides(overrides)
    console.print(f"[bold]tfpipe score {pipeline.name}[/bold] (home {args.home})")
    record = run_pipeline(
        pipeline, args.home, run_id=args.run_id, overrides=overrides, events=console_events(console)
    )
    if record["status"] != "succeeded":
        console.print(
            f"[bold red]scoring failed:[/bold red] {escape(str(record.get('error')))}",
            highlight=False,
        )
        return 1
    [scored] = record["steps"]
    out = os.path.abspath(args.out) if "://" not in args.out else args.out.rstrip("/")
    copied = copy_committed(scored["uri"], out)
    summary = scored["summary"]
    files = open_artifact(out).files()  # type: ignore[attr-defined]
    rate = summary.get("rows_per_second")
    cached = (
        " (cached: this data was scored with this model before)"
        if scored["status"] == "cached"
        else ""
    )
    console.print(
        f"scored {summary['rows']:,} rows"
        + (f" at {rate:,} rows/s" if rate else "")
        + f" with {summary.get('model')}{cached}",
        highlight=False,
    )
    where = "written to" if copied else "already in"
    console.print(f"→ {where} {out}: {len(files)} {summary.get('format')} file(s)", highlight=False)
    for path in files[:10]:
        console.print(f"  {path}", highlight=False)
    return 0


def _version(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TfpipeError(
            f"--model-version expects a version number or 'latest', got {text!r}"
        ) from None


def cmd_runs(args: argparse.Namespace, console: Console) -> int:
    table = Table("run", "pipeline", "status", "executed", "cached", "seconds", "started")
    for r in list_runs(args.home, args.pipeline):
        steps = r.get("steps", [])
        table.add_row(
            r["run_id"],
            r["pipeline"],
            r["status"],
            str(sum(s.get("status") == "executed" for s in steps)),
            str(sum(s.get("status") == "cached" for s in steps)),
            f"{r.get('seconds', 0):.1f}",
            r.get("started_at", ""),
        )
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace, console: Console) -> int:
    r = find_run(args.home, args.run, args.pipeline)
    if r.get("picked"):
        console.print(r["picked"], highlight=False)
    console.print(
        f"[bold]run {r['run_id']}[/bold] pipeline {r['pipeline']} runtime "
        f"{r['runtime']}: {r['status']} ({r.get('seconds', 0):.1f}s)"
    )
    if r.get("overrides"):
        console.print(f"overrides: {r['overrides']}")
    workers = any(s.get("worker") for s in r["steps"])  # an Airflow run across workers
    table = Table(
        "step", "status", "seconds", *(["worker"] if workers else []), "summary", "artifact"
    )
    for s in r["steps"]:
        table.add_row(
            s["step"],
            s.get("status", ""),
            f"{s.get('seconds', 0):.1f}",
            *([s.get("worker") or ""] if workers else []),
            summary_line(s),
            s.get("uri", ""),
        )
    console.print(table)
    if r.get("error"):
        console.print(f"[red]{r['error']}[/red]")
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from tfpipe.pipelines.report.render import render_report

    record = find_run(args.home, args.run, args.pipeline)
    if record.get("picked"):
        console.print(record["picked"], highlight=False)
    path = render_report(record, RunLog(args.home, record["pipeline"], record["run_id"]))
    console.print(path)
    return 0


def serving_directory(pipeline_ref: str, home: str):
    return load_pipeline(pipeline_ref, home).serving_directory()


def cmd_rollback(args: argparse.Namespace, console: Console) -> int:
    serving = serving_directory(args.pipeline, args.home)
    moved, served = serving.rollback(args.to)
    console.print(
        f"rolled back {serving.model_dir}: now serving version {served}; moved aside "
        f"{moved} (kept in {serving.model_dir}/.rolled_back)"
    )
    console.print(f"versions now: {serving.versions()}")
    return 0


def cmd_tensorboard(args: argparse.Namespace, console: Console) -> int:
    from tfpipe.components.artifacts import Model, is_committed, open_artifact

    record = find_run(args.home, args.run, args.pipeline)
    models = [
        s["uri"]
        for s in record["steps"]
        if s.get("uri") and is_committed(s["uri"]) and isinstance(open_artifact(s["uri"]), Model)
    ]
    if not models:
        raise TfpipeError(f"run {record['run_id']} has no trained model to show")
    logdir = models[0]
    tensorboard = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    console.print(f"TensorBoard on {logdir} at http://{args.host}:{args.port}")
    os.execv(
        tensorboard,
        [tensorboard, "--logdir", logdir, "--host", args.host, "--port", str(args.port)],
    )
    return 0


def cmd_warm(args: argparse.Namespace, console: Console) -> int:
    """Become this host's warm worker of a runtime (see tfpipe.components.core.warm)."""
    from tfpipe.components.core.runtime import child_environment, interpreter

    python = interpreter(args.runtime)
    argv = [python, "-m", "tfpipe.components", "warm", "--runtime", args.runtime]
    if args.idle_seconds:
        argv += ["--idle-seconds", str(args.idle_seconds)]
    os.execve(python, argv, child_environment(args.runtime))
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfpipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--home",
        default=default_home(),
        help="where artifacts, runs and pushed models live ($TFPIPE_HOME)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline with the local runner")
    run.add_argument("pipeline", help="a built-in pipeline name or a pipeline .py file")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override: runtime=estimator, trainer.train_steps=200, …",
    )
    run.add_argument("--run-id", default=None)
    score = sub.add_parser(
        "score", help="score data with the pipeline's served model (Parquet, CSV or TFRecords)"
    )
    score.add_argument("pipeline", help="a built-in pipeline name or a pipeline .py file")
    score.add_argument("--data", required=True, help="path or glob of CSV / Parquet / TFRecords")
    score.add_argument("--out", required=True, help="directory (or s3:// prefix) to write to")
    score.add_argument("--model-version", default=None, help="a served version, or latest")
    score.add_argument("--passthrough", default=None, metavar="COL,...", help="columns to keep")
    score.add_argument("--format", choices=("parquet", "csv", "tfrecord"), default=None)
    score.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    score.add_argument("--run-id", default=None)
    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("pipeline", nargs="?")
    show = sub.add_parser("show", help="show one run's steps and artifacts")
    show.add_argument("run", help="a run id (or prefix), or 'latest'")
    show.add_argument("pipeline", nargs="?", help="only this pipeline's runs")
    report = sub.add_parser("report", help="(re)write a run's HTML report and print its path")
    report.add_argument("run", help="a run id (or prefix), or 'latest'")
    report.add_argument("pipeline", nargs="?", help="only this pipeline's runs")
    rollback = sub.add_parser("rollback", help="serve the previous pushed version again")
    rollback.add_argument("pipeline")
    rollback.add_argument("--to", type=int, default=None, help="a version (default: previous)")
    tensorboard = sub.add_parser("tensorboard", help="start TensorBoard on a run's training logs")
    tensorboard.add_argument("run")
    tensorboard.add_argument("pipeline", nargs="?", help="only this pipeline's runs")
    tensorboard.add_argument("--host", default="127.0.0.1")
    tensorboard.add_argument("--port", type=int, default=6006)
    warm = sub.add_parser(
        "warm",
        help="keep a runtime's interpreter warm (TensorFlow imported) for this host's Airflow "
        "tasks to fork their steps from",
    )
    warm.add_argument("runtime", choices=["modern", "estimator"])
    warm.add_argument("--idle-seconds", type=float, default=0.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.home = os.path.abspath(args.home)
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 200  # logs and pipes: do not squeeze tables into 80 columns
    commands = {
        "run": cmd_run,
        "score": cmd_score,
        "runs": cmd_runs,
        "show": cmd_show,
        "report": cmd_report,
        "rollback": cmd_rollback,
        "tensorboard": cmd_tensorboard,
        "warm": cmd_warm,
    }
    try:
        return commands[args.command](args, console)
    except TfpipeError as exc:
        console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
