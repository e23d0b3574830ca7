"""The trainer's report section: how it was trained and why, and its training curves (read from
the TensorBoard event files without importing TensorFlow)."""

from __future__ import annotations

import glob
import os
import struct
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from tfpipe.components.artifacts import Model
from tfpipe.components.core.presentation import figure_uri, img, pyplot, render, section
from tfpipe.components.trainer import warm_start_note


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


def training_curves(model: Model) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{metric: {series: [(step, value)]}}`` from the TensorBoard event files of a model."""
    from tensorboard.util import tensor_util

    curves: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(dict)
    for path in sorted(
        glob.glob(os.path.join(model.root, "**", "events.out.tfevents.*"), recursive=True)
    ):
        series = os.path.relpath(os.path.dirname(path), model.root).replace(os.sep, "/")
        series = series.split("/", 1)[1] if "/" in series else "train"
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


def curves_figure(curves: dict[str, dict[str, list[tuple[int, float]]]]) -> str:
    plt = pyplot()
    names = sorted(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for series, points in sorted(curves[name].items()):
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, marker="o", markersize=3, label=series)
        ax.set_title(name)
        ax.set_xlabel("step / epoch")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return figure_uri(fig)


def report(model: Model, step: dict[str, Any]) -> Any:
    summary = model.summary
    parts = [
        render(
            "<p>{{ s.backend }} / {{ s.distribution }}: {{ s.reason }}</p>",
            s={k: summary.get(k) for k in ("backend", "distribution", "reason")},
        )
    ]
    note = warm_start_note(summary.get("warm_start")).removeprefix("; ")
    if note:
        parts.append(render("<p>Initial weights: {{ note }}</p>", note=note))
    curves = training_curves(model)
    if curves:
        parts.append(img(curves_figure(curves), "training curves"))
    return section("Training", *parts)
