"""The TensorFlow Serving directory layout, read-only: ``<base>/<name>/<integer version>/``.

Shared by the Evaluator (the baseline is the newest pushed version) and the Pusher.
"""

from __future__ import annotations

import json
import os


def versions(model_dir: str) -> list[int]:
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir) if d.isdigit())


def latest_version(model_dir: str) -> str | None:
    found = versions(model_dir)
    return os.path.join(model_dir, str(found[-1])) if found else None


def served_fingerprint(version_dir: str) -> str | None:
    """The model fingerprint recorded in a pushed version's model card, if it has one."""
    card = os.path.join(version_dir, "assets.extra", "model_card.json")
    if not os.path.exists(card):
        return None
    with open(card, encoding="utf-8") as f:
        return json.load(f).get("model_fingerprint")
