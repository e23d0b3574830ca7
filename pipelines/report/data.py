"""Everything a report shows, read from the run record, the manifests and the artifacts."""

from __future__ import annotations

import glob
import json
import os
import struct
from collections import defaultdict
from collections.abc import Iterator
from typing import Any


def load_manifest(uri: str) -> dict[str, Any]:
    try:
        with open(os.path.join(uri, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, TypeError):
        return {}


def edges(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(upstream step, downstream step) pairs, from the manifests' input URIs."""
    by_uri = {s.get("uri"): s["step"] for s in record["steps"]}
    pairs = []
    for s in record["steps"]:
        for inp in load_manifest(s.get("uri", "")).get("inputs", {}).values():
            if inp["uri"] in by_uri:
                pairs.append((by_uri[inp["uri"]], s["step"]))
    return pairs


def read_events(path: str) -> Iterator[Any]:
    """Event protos from a TensorBoard event file (TFRecord framing), without importing TF."""
    from tensorboard.compat.proto import event_pb2

    with open(path, "rb") as f:
        while header := f.read(12):
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            f.read(4)  # data CRC
            if len(data) < length:
                return  # a file still being written
            yield event_pb2.Event.FromString(data)


def training_curves(model_uri: str) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{metric: {series: [(step, value)]}}`` from the TensorBoard event files of a model."""
    from tensorboard.util import tensor_util

    curves: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(dict)
    for path in sorted(
        glob.glob(os.path.join(model_uri, "**", "events.out.tfevents.*"), recursive=True)
    ):
        series = os.path.relpath(os.path.dirname(path), model_uri).replace(os.sep, "/")
        series = series.removeprefix("logs/").replace("checkpoints/", "")
        series = "train" if series == "checkpoints" else series
        for event in read_events(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    number = float(value.simple_value)
                elif value.HasField("tensor") and value.tensor.dtype in (1, 2):  # float, double
                    array = tensor_util.make_ndarray(value.tensor)
                    if array.size != 1:
                        continue
                    number = float(array.reshape(()))
                else:
                    continue
                name = value.tag.split("/")[-1].removeprefix("epoch_")
                curves[name].setdefault(series, []).append((event.step, number))
    skip = ("global_step/sec", "sec", "learning_rate", "steps_per_second")
    return {
        k: {s: sorted(p) for s, p in v.items()}
        for k, v in curves.items()
        if k not in skip and not k.endswith("_vs_iterations")
    }


def evaluation(uri: str) -> dict[str, Any] | None:
    path = os.path.join(uri, "evaluation.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)
