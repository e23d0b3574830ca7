"""The house rules, checked: the artifact catalog is the only place that knows artifact layouts,
the orchestrator environment has no TensorFlow, and a new component is one package plus one
registry line."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess

import pytest
from conftest import REPO

ORCHESTRATOR_PYTHON = os.path.join(REPO, ".venvs", "orchestrator", "bin", "python")

# Artifact file and directory names, and the one component allowed to use each besides the catalog.
LAYOUT = {
    "schema.json": "example_gen",
    "statistics.json": "example_gen",
    "rejected.csv": "example_gen",
    "anomalies.json": "example_validator",
    "transform_graph": "transform",
    "serving_model": "trainer",
    "model_info.json": "trainer",
    "evaluation.json": "evaluator",
    "model_card.json": "pusher",
    "model_card.md": "pusher",
    "assets.extra": "pusher",
    "scoring.json": "bulk_inferrer",
    "manifest.json": None,
}


def test_no_artifact_layout_string_outside_the_catalog_and_its_component():
    offenders = []
    sources = glob.glob(os.path.join(REPO, "components", "**", "*.py"), recursive=True)
    sources += glob.glob(os.path.join(REPO, "pipelines", "**", "*.py"), recursive=True)
    sources += glob.glob(os.path.join(REPO, "dags", "*.py"))
    for path in sources:
        rel = os.path.relpath(path, REPO)
        if rel.startswith(os.path.join("components", "artifacts")):
            continue
        text = open(path, encoding="utf-8").read()
        for name, owner in LAYOUT.items():
            if owner and rel.startswith(os.path.join("components", owner) + os.sep):
                continue
            if re.search(rf"[\"']{re.escape(name)}[\"']", text):
                offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


def test_the_orchestrator_environment_plans_without_tensorflow(tmp_path):
    code = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('tensorflow') is None, 'TensorFlow is installed here'\n"
        "from tfpipe.pipelines.registry import load_pipeline\n"
        "from tfpipe.pipelines.engine import plan\n"
        "invocations = plan(load_pipeline('penguins', sys.argv[1]), sys.argv[1])\n"
        "print(len(invocations), len({i.fingerprint for i in invocations}))\n"
    )
    proc = subprocess.run(
        [ORCHESTRATOR_PYTHON, "-c", code, str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["6", "6"]


ROW_COUNT_INIT = '''"""RowCount: counts the records of each split (a toy StatisticsGen)."""

from tfpipe.components.artifacts import Artifact
from tfpipe.components.core.spec import ComponentParams, ComponentSpec


class RowCounts(Artifact):
    TYPE = "RowCounts"


class RowCountParams(ComponentParams):
    pass


def summary_line(summary):
    return "counted " + ", ".join(f"{k}={v}" for k, v in sorted(summary["counts"].items()))


SPEC = ComponentSpec(
    name="row_count",
    artifact_type=RowCounts,
    params=RowCountParams,
    entry_point="tfpipe.components.row_count.run:run",
    inputs=("examples",),
    summary_line=summary_line,
    report_section="tfpipe.components.row_count.run:report",
    outlet="row_counts",
    announce=lambda summary: {"counts": summary["counts"]},
)
'''

ROW_COUNT_RUN = """import struct


def count_records(path):
    n = 0
    with open(path, "rb") as f:
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            f.seek(length + 4, 1)
            n += 1
    return n


def run(ctx):
    examples = ctx.inputs["examples"]
    counts = {s: sum(count_records(f) for f in examples.split_files(s)) for s in examples.splits()}
    return {"counts": counts}


def report(artifact, step):
    from tfpipe.components.core.presentation import render

    return render(
        "<h2>Row counts</h2><p id='row-counts'>{{ counts }}</p>", counts=artifact.summary["counts"]
    )
"""

PIPELINE = """import os
from tfpipe.pipelines.definition import Pipeline, Step
from tfpipe.pipelines.penguins.pipeline import default_data


def build(home):
    return Pipeline(
        name="counting",
        steps=(
            Step("example_gen", "example_gen", {"input": os.environ["TOY_DATA"]}),
            Step("row_count", "row_count", inputs={"examples": "example_gen"}),
        ),
    )
"""

DAG = """from tfpipe.pipelines.airflow_dag import build_dag

dag = build_dag(__import__("os").path.join(__import__("os").path.dirname(__file__), "..",
                "counting_pipeline.py"), schedule=None)
"""


@pytest.mark.slow
def test_a_new_component_is_one_package_plus_one_registry_line(tmp_path, penguins_csv):
    """Copy the repository, add a toy component (a package and one registry line) and a pipeline
    that uses it: it runs locally, shows in `tfpipe show` and the report, and runs in an Airflow
    DAG with its outlet, with no other file of the repository edited."""
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO, copy, ignore=shutil.ignore_patterns(".git", ".tfpipe", "__pycache__", ".venvs")
    )
    os.symlink(os.path.join(REPO, ".venvs"), copy / ".venvs")
    package = copy / "components" / "row_count"
    package.mkdir()
    (package / "__init__.py").write_text(ROW_COUNT_INIT)
    (package / "run.py").write_text(ROW_COUNT_RUN)
    registry = copy / "components" / "registry.py"
    text = registry.read_text()
    registry.write_text(text.replace("}\n", '    "row_count": "tfpipe.components.row_count",\n}\n'))
    (copy / "counting_pipeline.py").write_text(PIPELINE)
    dags = copy / "toy_dags"
    dags.mkdir()
    (dags / "counting.py").write_text(DAG)

    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "PYTHONPATH": str(copy),
        "TFPIPE_HOME": str(home),
        "TOY_DATA": penguins_csv,
    }
    tfpipe = [ORCHESTRATOR_PYTHON, "-m", "tfpipe.pipelines"]
    run = subprocess.run(
        [*tfpipe, "run", str(copy / "counting_pipeline.py")],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "row_count" in run.stdout and "counted eval=" in run.stdout
    shown = subprocess.run(
        [*tfpipe, "show", "latest"], cwd=copy, env=env, capture_output=True, text=True
    ).stdout
    assert "row_count" in shown and "counted eval=" in shown
    report = re.search(r"report: (\S+)", run.stdout).group(1)
    assert "<p id='row-counts'>" in open(report).read()

    from airflow_support import DAG_TEST

    airflow_env = {
        **env,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "TFPIPE_HOME": str(tmp_path / "airflow_home"),  # not cached: the outlet announces
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run(
        [os.path.join(os.path.dirname(ORCHESTRATOR_PYTHON), "airflow"), "db", "migrate"],
        env=airflow_env,
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=300,
    )
    proc = subprocess.run(
        [ORCHESTRATOR_PYTHON, "-c", DAG_TEST, "counting", "{}"],
        env=airflow_env,
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("@@RESULT "))
    result = json.loads(line[len("@@RESULT ") :])
    assert result["state"] == "success", proc.stdout[-3000:] + proc.stderr[-3000:]
    assert result["tasks"]["row_count"]["state"] == "success"
    assert result["xcom"]["row_count"]["summary"]["counts"]["eval"] > 0
    # Only the new package and one registry line differ from the repository.
    diff = subprocess.run(
        [
            "git",
            "diff",
            "--no-index",
            "--stat",
            os.path.join(REPO, "components"),
            str(copy / "components"),
        ],
        capture_output=True,
        text=True,
    ).stdout
    changed = sorted(
        (ln.split("|")[0].strip().split("/")[-1].rstrip("}"), ln.split("|")[1].split()[0])
        for ln in diff.splitlines()
        if "|" in ln and "__pycache__" not in ln
    )
    assert changed == [("__init__.py", "29"), ("registry.py", "1"), ("run.py", "25")], diff


# -- the import namespace, the public API, the import graph --------------------------------------
PUBLIC_API = {"tfpipe", "tfpipe.airflow", "tfpipe.transform", "tfpipe.tfx"}


def package_modules() -> dict[str, str]:
    """Every module of the tfpipe package: ``{dotted name: file}`` (the repository's components/
    and pipelines/ folders are tfpipe.components and tfpipe.pipelines)."""
    roots = {
        "tfpipe": os.path.join(REPO, "tfpipe"),
        "tfpipe.components": os.path.join(REPO, "components"),
        "tfpipe.pipelines": os.path.join(REPO, "pipelines"),
    }
    modules = {}
    for prefix, root in roots.items():
        for path in glob.glob(os.path.join(root, "**", "*.py"), recursive=True):
            rel = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
            name = prefix if rel == "__init__" else f"{prefix}.{rel.removesuffix('.__init__')}"
            modules[name] = path
    return modules


def imported_names(path: str, package: str) -> set[str]:
    """Modules a file imports, anywhere in it (lazy imports inside functions included)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_package_has_no_import_cycles():
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        graph[name] = {m for m in imported_names(path, package) if m in modules and m != name}
    # Tarjan's strongly connected components: any component of two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert len(graph) > 80, "the package scan found too few modules"
    assert not cycles, cycles


def test_example_pipeline_user_modules_and_dag_files_import_only_the_public_api():
    files = glob.glob(os.path.join(REPO, "dags", "*.py"))
    files += glob.glob(os.path.join(REPO, "pipelines", "penguins", "*.py"))
    files += glob.glob(os.path.join(REPO, "benchmarks", "taxi", "*.py"))
    files += glob.glob(os.path.join(REPO, "tests", "modules", "*.py"))
    offenders = []
    for path in files:
        for name in imported_names(path, ""):
            internal = name.startswith("tfpipe.") and not any(
                name == api or name.startswith(api + ".") for api in PUBLIC_API
            )
            if internal or name.split(".")[0] in ("components", "pipelines"):
                offenders.append(f"{os.path.relpath(path, REPO)}: {name}")
    assert len(files) >= 8
    assert not offenders, offenders


def test_the_public_api_is_small_and_imports_neither_tensorflow_nor_airflow():
    code = (
        "import sys, tfpipe\n"
        "print(sorted(tfpipe.__all__))\n"
        "from tfpipe import Pipeline, RunParam, Step, default_home, serving_base\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'airflow')]\n"
    )
    proc = subprocess.run(
        [ORCHESTRATOR_PYTHON, "-c", code],
        cwd="/",
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, ".venvs", "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.replace("'", '"')) == [
        "Label",
        "ParameterError",
        "Pipeline",
        "RunParam",
        "Scoring",
        "Step",
        "default_home",
        "prediction_files",
        "serving_base",
    ]


def test_orchestration_names_no_component():
    """Runners, the CLI, the report and the DAG builder iterate over specs: a component's name
    appears only in its own package, the registry, and pipeline definitions."""
    from tfpipe.components import COMPONENT_NAMES

    sources = glob.glob(os.path.join(REPO, "pipelines", "*.py"))
    # (the scoring pipeline is a pipeline definition: it names the step it composes)
    sources = [s for s in sources if not s.endswith(f"{os.sep}scoring.py")]
    sources += glob.glob(os.path.join(REPO, "pipelines", "report", "*.py"))
    for package in ("core", "artifacts"):
        sources += glob.glob(os.path.join(REPO, "components", package, "*.py"))
    sources += [os.path.join(REPO, "components", name) for name in ("__init__.py", "__main__.py")]
    offenders = []
    for path in sources:
        text = open(path, encoding="utf-8").read()
        for name in COMPONENT_NAMES:
            if re.search(rf"[\"']{name}[\"']", text):
                offenders.append(f"{os.path.relpath(path, REPO)}: {name}")
    assert not offenders, offenders
