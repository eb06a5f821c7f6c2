"""Reading the linked attention view (ui/attention_view.py) out of an AppTest run: the data its browser component
received, and one stage's numbers decoded exactly as the component's JS decodes them (float32, C order)."""
from __future__ import annotations

import json

import numpy as np

from minigpt.views import linked


def view_datas(at) -> list[dict]:
    return [json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.component_name.endswith("attention_view")]


def view_data(at) -> dict:
    found = view_datas(at)
    assert len(found) == 1, f"expected one linked attention view, found {len(found)}"
    return found[0]


def stage(data: dict, key: str) -> dict:
    return next(s for s in data["stages"] if s["key"] == key)


def values(data: dict, key: str) -> np.ndarray:
    """[heads, rows, columns] as the component received them."""
    s = stage(data, key)
    return linked.decode(s["values"], (s["heads"], s["rows"], s["cols"]))


def texts(data: dict) -> list[str]:
    return [s["text"] for s in data["stages"]]
