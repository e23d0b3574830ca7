"""The one component CLI: ``python -m tfpipe.components <name> [options]``.

The same command runs a component in-process, in another runtime's interpreter, in an Airflow task
or in a cluster pod. Its last stdout line is a JSON result (artifact URI, fingerprint, cached,
summary) small enough for an Airflow XCom.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tfpipe.components import COMPONENT_NAMES, get_spec
from tfpipe.components.core.errors import NothingToCommit, TfpipeError
from tfpipe.components.core.lifeline import watch_parent
from tfpipe.components.core.runtime import RUNTIMES, apply_runtime_environment
from tfpipe.components.core.worker import error_payload, hard_exit


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs = {}
    for pair in pairs:
        name, sep, uri = pair.partition("=")
        if not sep or not name or not uri:
            raise TfpipeError(f"--input expects NAME=URI, got {pair!r}")
        inputs[name] = uri
    return inputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tfpipe.components", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMPONENT_NAMES:
        p = sub.add_parser(name, help=f"run the {name} component")
        p.add_argument("--params", default="{}", help="parameters as a JSON object")
        p.add_argument(
            "--external", default="{}", help="external inputs frozen by the planner (JSON)"
        )
        p.add_argument(
            "--planned",
            default="{}",
            help="the planner's resolution of this step (JSON: fingerprint, digests, code and "
            "runtime identities); absent: the step is resolved here",
        )
        p.add_argument("--input", action="append", default=[], metavar="NAME=URI")
        p.add_argument("--artifacts-root", required=True, help="where artifacts are stored")
        p.add_argument("--step", default=name, help="the step name in its pipeline")
        p.add_argument("--runtime", default="modern", choices=sorted(RUNTIMES))
        p.add_argument("--run-id", default="manual")
    schema = sub.add_parser("schema", help="print a component's parameter JSON schema")
    schema.add_argument("component", choices=COMPONENT_NAMES)
    worker = sub.add_parser("worker", help="serve JSON requests (used by the local runner)")
    worker.add_argument("--result-fd", type=int, required=True)
    worker.add_argument("--runtime", default="modern", choices=sorted(RUNTIMES))
    worker.add_argument(
        "--warm", action="store_true", help="import TensorFlow before serving the first request"
    )
    warm = sub.add_parser(
        "warm",
        help="a warm worker: import the runtime once, then fork a component process for each "
        "Airflow task that asks (see tfpipe.components.core.warm)",
    )
    warm.add_argument("--runtime", default="modern", choices=sorted(RUNTIMES))
    warm.add_argument("--socket", default=None, help="default: under $TFPIPE_CACHE/warm")
    warm.add_argument(
        "--idle-seconds", type=float, default=0.0, help="stop after this long unused (0: never)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    watch_parent()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if getattr(args, "runtime", None):
        apply_runtime_environment(args.runtime)
    if args.command == "schema":
        print(json.dumps(get_spec(args.component).params.model_json_schema(), indent=2))
        return
    if args.command == "warm":
        from tfpipe.components.core.warm import serve

        sys.exit(serve(args.runtime, args.socket, args.idle_seconds))
    if args.command == "worker":
        from tfpipe.components.core.worker import main as worker_main

        worker_main(args.result_fd, warm=args.warm)
        return
    code = 0
    try:
        from tfpipe.components.core.execute import Invocation, execute

        request = {
            "component": args.command,
            "step": args.step,
            "params": json.loads(args.params),
            "external": json.loads(args.external) or None,
            "planned": json.loads(args.planned) or None,
            "inputs": _parse_inputs(args.input),
            "runtime": args.runtime,
            "artifacts_root": args.artifacts_root,
            "run_id": args.run_id,
        }
        inv = Invocation.from_request(request)
        result = {"ok": True, **execute(inv, args.run_id, progress=lambda m: print(m, flush=True))}
    except NothingToCommit as done:
        result = {
            "ok": True,
            "committed": False,
            "step": args.step,
            "message": str(done),
            "summary": done.summary,
        }
    except Exception as exc:
        result = {"step": args.step, **error_payload(exc)}
        print(result["traceback"] or f"error: {result['error']}", file=sys.stderr)
        code = 1
    print(json.dumps(result, default=str), flush=True)
    hard_exit(code)


if __name__ == "__main__":
    main()
