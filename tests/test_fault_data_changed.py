"""Data changed between planning and the run: the files a step reads must be the files that were
fingerprinted, or the step fails naming the file. ``cp -p`` of other bytes of the same size keeps
the size, mtime and inode the digest cache used to trust; two processes saving the cache at once
must not lose each other's entries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, example_gen_invocation

from tfpipe.components.core import fingerprint
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.execute import execute, resolve_request


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "content-digests.json"


def _same_size_same_mtime(tmp_path, original):
    """Other bytes of the same size, with the original's mtime: what ``cp -p`` then copies."""
    text = original.read_text()
    other = tmp_path / "other.csv"
    other.write_text(text.replace("1.5", "9.5"))
    assert other.stat().st_size == original.stat().st_size
    st = original.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    return other


def test_cp_p_of_same_size_bytes_after_planning_fails_the_step_naming_the_file(tmp_path, cache):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,1.5\n2,2.5\n3,3.5\n")
    planned = example_gen_invocation(str(tmp_path / "store"), input=str(data))
    other = _same_size_same_mtime(tmp_path, data)
    inode = data.stat().st_ino
    subprocess.run(["cp", "-p", str(other), str(data)], check=True)
    assert data.stat().st_ino == inode and data.stat().st_mtime_ns == other.stat().st_mtime_ns

    # The digest cache is not fooled: the content's digest is new.
    assert fingerprint.data_digest([str(data)]) != planned.external.digests["input"]
    # Resolved again where the step runs (a worker, a component process): refused by name.
    changed = rf"{re.escape(str(data))} changed .* after the run was planned"
    with pytest.raises(InputDataError, match=changed):
        resolve_request(planned.to_request("run"))
    # Run with what was planned: refused before anything is read or committed.
    with pytest.raises(InputDataError, match=changed):
        execute(planned, "run")
    assert not os.path.exists(planned.uri)


def test_a_file_rewritten_while_it_is_read_fails_the_step(tmp_path, cache, monkeypatch):
    from tfpipe.components.example_gen import run as example_gen_run

    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,1.5\n2,2.5\n")
    planned = example_gen_invocation(str(tmp_path / "store"), input=str(data))
    convert = example_gen_run.convert_window

    def convert_then_append(ctx, files, objects):  # a writer appends while ExampleGen reads
        summary = convert(ctx, files, objects)
        with open(data, "a") as f:
            f.write("3,3.5\n")
        return summary

    monkeypatch.setattr(example_gen_run, "convert_window", convert_then_append)
    with pytest.raises(InputDataError, match=rf"{re.escape(str(data))} changed"):
        execute(planned, "run")
    assert not os.path.exists(planned.uri)  # nothing committed


def test_a_drop_rewritten_while_it_is_converted_is_not_kept(tmp_path, cache, monkeypatch):
    """The drop is keyed by the bytes hashed at planning: bytes read after a write must not be
    committed under that key (a later window would reuse them)."""
    from tfpipe.components.example_gen import drops

    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,1.5\n2,2.5\n")
    planned = example_gen_invocation(str(tmp_path / "store"), input=str(data))
    encode = drops.encode

    def encode_then_append(*args, **kwargs):
        encoded = encode(*args, **kwargs)
        with open(data, "a") as f:
            f.write("3,3.5\n")
        return encoded

    monkeypatch.setattr(drops, "encode", encode_then_append)
    with pytest.raises(InputDataError, match=rf"{re.escape(str(data))} changed"):
        execute(planned, "run")
    drop_dir = os.path.join(os.path.dirname(planned.uri) + drops.DROP_SUFFIX)
    committed = [
        d
        for d in (os.listdir(drop_dir) if os.path.isdir(drop_dir) else [])
        if os.path.exists(os.path.join(drop_dir, d, "manifest.json"))
    ]
    assert committed == []


def test_two_processes_saving_the_digest_cache_keep_both_entries(tmp_path, cache, monkeypatch):
    mine, theirs = tmp_path / "mine.csv", tmp_path / "theirs.csv"
    mine.write_text("x\n1\n")
    theirs.write_text("x\n2\n")
    real = fingerprint.file_digest

    def slow_digest(path: str) -> str:
        # While this process hashes, another one digests another file and saves the cache.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]);"
                "from tfpipe.components.core.fingerprint import content_digests;"
                "content_digests([sys.argv[2]])",
                REPO,
                str(theirs),
            ],
            check=True,
            env={**os.environ},
        )
        return real(path)

    monkeypatch.setattr(fingerprint, "file_digest", slow_digest)
    fingerprint.content_digests([str(mine)])
    saved = json.loads(cache.read_text())
    assert sorted(saved) == sorted([str(mine), str(theirs)])
