"""``pip install`` of a built wheel gives a working ``tfpipe`` CLI and DAG builder outside the
source tree (the training runtimes are found through ``TFPIPE_VENVS``), installs nothing at the
top level but ``tfpipe``, and lives beside a user's own ``pipelines`` and ``components``."""

from __future__ import annotations

import os
import subprocess
import zipfile

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def sh(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_a_wheel_installs_the_cli_and_the_dag_builder(tmp_path, penguins_csv):
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    sh("uv", "build", "--quiet", "--wheel", "--out-dir", str(dist), REPO, cwd=tmp_path)
    wheel = next(dist.glob("tfpipe-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
        top = {name for name in top if not name.endswith((".dist-info", ".data"))}
    assert top == {"tfpipe"}, top
    sh("uv", "venv", "--quiet", "--python", "3.11", str(venv))
    python = str(venv / "bin" / "python")
    sh("uv", "pip", "install", "--quiet", "--python", python, f"{wheel}[airflow]")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "TFPIPE_LOCKS") and not k.startswith("AIRFLOW")
    }
    env.update(TFPIPE_VENVS=os.path.join(REPO, ".venvs"), TFPIPE_HOME=str(tmp_path / "home"))
    # The user's own packages named like the repository's folders, first on the path.
    user = tmp_path / "user"
    for package in ("pipelines", "components"):
        (user / package).mkdir(parents=True)
        (user / package / "__init__.py").write_text(f"MINE = '{package}'\n")
    env["PYTHONPATH"] = str(user)
    env["TFPIPE_CACHE"] = str(tmp_path / "cache")  # links to the installed packages go here
    tfpipe = str(venv / "bin" / "tfpipe")
    args = ["run", "penguins", "--set", f"data={penguins_csv}", "--set", "train_steps=100"]
    args += ["--set", "min_accuracy=0.5"]
    first = sh(tfpipe, *args, cwd=tmp_path, env=env)
    assert "(6 executed, 0 cached)" in first.stdout, first.stdout
    again = sh(tfpipe, *args, cwd=tmp_path, env=env)
    assert "all 6 steps cached" in again.stdout
    # The runtime ran the installed code (through links to it), not the source tree.
    links = os.listdir(tmp_path / "cache")
    assert any(name.startswith("src-") for name in links), links
    dag_file = tmp_path / "my_dag.py"
    dag_file.write_text(
        "import pipelines\nfrom tfpipe.airflow import build_dag\n"
        "assert pipelines.MINE == 'pipelines'\ndag = build_dag('penguins')\n"
    )
    airflow_env = {**env, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    built = sh(
        python,
        "-c",
        "import runpy, sys; d = runpy.run_path(sys.argv[1])['dag']; "
        "print(' '.join(t.task_id for t in d.tasks)); "
        "assert 'tensorflow' not in sys.modules",
        str(dag_file),
        env=airflow_env,
        cwd=tmp_path,
    )
    assert built.stdout.split() == [
        "example_gen",
        "example_validator",
        "transform",
        "trainer",
        "evaluator",
        "pusher",
        "report",
    ]
