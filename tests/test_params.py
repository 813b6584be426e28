"""Parameter validation: unknown names and wrong types stop with an error naming them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from nap.params import ParamError, StageParams, coerce, param


@dataclass(frozen=True)
class DemoParams(StageParams):
    stage: ClassVar[str] = "demo"
    epochs: int = param(3, "passes over the data")
    rate: float = param(0.1, "learning rate")
    layers: list[str] | None = param(None, "layers to use; None = all")
    mode: Literal["a", "b"] = param("a", "a mode")
    flag: bool = param(False, "a switch")

    def check(self) -> None:
        if self.epochs < 1:
            raise ParamError(f"demo.epochs must be >= 1, got {self.epochs}")


def test_defaults_and_valid_values():
    p = DemoParams.from_dict({"epochs": 5, "rate": 1, "layers": ("x", "y"), "mode": "b"})
    assert p.epochs == 5 and p.rate == 1.0 and isinstance(p.rate, float)
    assert p.layers == ["x", "y"] and p.mode == "b" and p.flag is False
    assert DemoParams.from_dict({}).to_dict() == {
        "epochs": 3,
        "rate": 0.1,
        "layers": None,
        "mode": "a",
        "flag": False,
    }


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epoch": 3}, "demo.epoch"),
        ({"epochs": "3"}, "'demo.epochs': expected int"),
        ({"epochs": 2.5}, "demo.epochs"),
        ({"epochs": True}, "demo.epochs"),
        ({"rate": "fast"}, "demo.rate"),
        ({"layers": "layer01"}, "demo.layers"),
        ({"layers": [1]}, "demo.layers[0]"),
        ({"mode": "c"}, "demo.mode"),
        ({"flag": 1}, "demo.flag"),
        ({"epochs": 0}, "demo.epochs must be >= 1"),
    ],
)
def test_bad_values_name_the_parameter(values, message):
    with pytest.raises(ParamError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DemoParams.from_dict(values)


def test_describe_lists_docs():
    rows = {name: (tp, default, doc) for name, tp, default, doc in DemoParams.describe()}
    assert rows["epochs"] == ("int", 3, "passes over the data")
    assert rows["layers"][0] == "list[str] | None"


def test_coerce_nested():
    assert coerce({"a": [1, 2]}, dict[str, list[float]], "x") == {"a": [1.0, 2.0]}
    with pytest.raises(ParamError):
        coerce({"a": ["z"]}, dict[str, list[float]], "x")
