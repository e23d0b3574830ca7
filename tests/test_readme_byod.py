"""The README's "Bring your own data" section, as a user follows it: its files written as they
are, its commands run as they are, on scikit-learn's wine table."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def section() -> str:
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    start = text.index("## Bring your own data")
    return text[start : text.index("\n## ", start + 10)]


def blocks(text: str, marker: str) -> list[tuple[str, str]]:
    """(the marker's argument, the fenced block after it)."""
    pattern = rf"<!-- {marker}:? ?([^ ]*) -->\n```\w*\n(.*?)```"
    return re.findall(pattern, text, flags=re.S)


def wine_csv(path: str, rows: slice) -> None:
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map(dict(enumerate(data.target_names)))
    frame.loc[::17, "magnesium"] = None  # a few blanks, as real exports have
    frame.sample(frac=1.0, random_state=7).iloc[rows].to_csv(path, index=False)


def test_the_bring_your_own_data_section_works_as_written(tmp_path):
    text = section()
    files = blocks(text, "byod-file")
    assert [name for name, _ in files] == ["wine_module.py", "wine_pipeline.py"]
    for name, body in files:
        (tmp_path / name).write_text(body)
    wine_csv(str(tmp_path / "wine.csv"), slice(0, 150))
    wine_csv(str(tmp_path / "wine_more.csv"), slice(0, 178))
    (commands,) = [body for _, body in blocks(text, "byod-commands")]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "TFPIPE_HOME": str(tmp_path / "home"),
        "TFPIPE_CACHE": os.environ.get("TFPIPE_CACHE", os.path.expanduser("~/.cache/tfpipe")),
    }
    outputs = []
    for line in commands.strip().splitlines():
        argv = shlex.split(line)
        assert argv[0] == "bin/tfpipe", line
        argv[0] = os.path.join(REPO, "bin", "tfpipe")
        proc = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        outputs.append(proc.stdout)
    first, shown, second = outputs
    assert "(6 executed, 0 cached)" in first and "BLESSED" in first
    assert "no contract: nothing checked" in first and "inferred_schema.pbtxt" in first
    assert "pushed version" in first
    assert "latest run of pipeline 'wine'" in shown and "pusher" in shown
    assert "example_gen  executed" in second and "pushed version" in second
