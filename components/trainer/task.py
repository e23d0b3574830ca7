"""One task of a training cluster: ``python -m tfpipe.components.trainer.task REQUEST.json``.

Started by the local launcher (or a cluster manifest) with TF_CONFIG naming this task's role. The
chief records its training figures in the work directory for the launching component to export.
When started by the local launcher, the task ends itself as soon as the launcher is gone.
"""

from __future__ import annotations

import json
import os
import sys

from tfpipe.components.core.lifeline import watch_parent
from tfpipe.components.core.worker import hard_exit
from tfpipe.components.trainer.cluster import PROGRESS_MARK

STATS_FILE = "chief_stats.json"


def progress(message: str) -> None:
    print(PROGRESS_MARK + message, flush=True)


def _stay_local() -> None:
    """A non-chief task's checkpoints stay local (the chief's are the ones resumed from)."""


def main(request_path: str) -> None:
    from tfpipe.components.core.runtime import apply_runtime_environment

    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    apply_runtime_environment(request["runtime"])
    from tfpipe.components.artifacts.scratch_mirror import ScratchMirror
    from tfpipe.components.trainer.backends import backend_for
    from tfpipe.components.trainer.cluster_config import ClusterConfig
    from tfpipe.components.trainer.job import TrainingJob

    job = TrainingJob.from_request(request, ClusterConfig.from_env())
    # The chief's checkpoints go to the store as it writes them (another host resumes from them).
    mirror = ScratchMirror(job.work_dir, request.get("scratch_remote", ""), request.get("step", ""))
    stats = backend_for(job).train(progress, mirror.sync if job.cluster.is_chief else _stay_local)
    if job.cluster.is_chief:
        if mirror.active:
            stats["scratch_mirror"] = mirror.stats.as_dict()
        with open(os.path.join(job.work_dir, STATS_FILE), "w", encoding="utf-8") as f:
            json.dump(stats, f)
    hard_exit(0)


if __name__ == "__main__":
    watch_parent()
    try:
        main(sys.argv[1])
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        print(f"task failed: {type(exc).__name__}: {exc}", flush=True)
        hard_exit(1)
