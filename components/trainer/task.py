"""One task of a training cluster: ``python -m components.trainer.task REQUEST.json``.

Started by the local launcher (or a cluster manifest) with TF_CONFIG naming this task's role. The
chief records its training figures in the work directory for the launching component to export.
"""

from __future__ import annotations

import json
import os
import sys

from components.core.artifacts import read_artifact
from components.core.worker import hard_exit
from components.trainer.cluster import PROGRESS_MARK
from components.trainer.decision import Decision
from components.trainer.params import TrainerParams

STATS_FILE = "chief_stats.json"


def progress(message: str) -> None:
    print(PROGRESS_MARK + message, flush=True)


def main(request_path: str) -> None:
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    params = TrainerParams.model_validate(request["params"])
    decision = Decision(**request["decision"])
    transform = read_artifact(request["transform_uri"])
    from components.trainer.training import train

    stats = train(params, decision, transform, request["work_dir"], progress)
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    if task.get("type") in (None, "chief"):
        with open(os.path.join(request["work_dir"], STATS_FILE), "w", encoding="utf-8") as f:
            json.dump(stats, f)
    hard_exit(0)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        print(f"task failed: {type(exc).__name__}: {exc}", flush=True)
        hard_exit(1)
