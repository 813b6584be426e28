"""Parameter validation: unknown names and wrong types stop with an error naming them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from nap.params import ParamError, StageParams, coerce, load_yaml, param, parse_value, read_yaml


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


# -- NaN and infinities, seeds --------------------------------------------------------------------
@dataclass(frozen=True)
class NumbersParams(StageParams):
    stage: ClassVar[str] = "num"
    seed: int = param(0, "a seed")
    rate: float = param(0.1, "a rate")
    weights: list[float] = param([1.0], "weights")
    scale: dict[str, float] = param({}, "a scale per name")
    limit: float | None = param(None, "a bound or none")
    ceiling: float = param(float("inf"), "may be infinite", finite=False)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"rate": float("nan")}, "parameter 'num.rate' must be a finite number, got nan"),
        ({"rate": float("inf")}, "parameter 'num.rate' must be a finite number, got inf"),
        ({"rate": float("-inf")}, "parameter 'num.rate' must be a finite number, got -inf"),
        ({"weights": [1.0, float("nan")]}, "parameter 'num.weights[1]' must be a finite number, got nan"),
        ({"scale": {"a": float("inf")}}, "parameter \"num.scale['a']\" must be a finite number, got inf"),
        ({"limit": float("nan")}, "parameter 'num.limit' must be a finite number, got nan"),
        ({"seed": -1}, "parameter 'num.seed' must be >= 0 (and below 2**32), got -1"),
        ({"seed": 2**32}, "parameter 'num.seed' must be >= 0 (and below 2**32), got 4294967296"),
    ],
)
def test_non_finite_numbers_and_bad_seeds_are_refused(values, message):
    with pytest.raises(ParamError) as info:
        NumbersParams.from_dict(values)
    assert str(info.value) == message


def test_a_parameter_may_allow_non_finite_values():
    p = NumbersParams.from_dict({"ceiling": float("-inf"), "seed": 2**32 - 1, "limit": 2})
    assert p.ceiling == float("-inf") and p.seed == 2**32 - 1 and p.limit == 2.0
    assert math.isnan(NumbersParams.from_dict({"ceiling": float("nan")}).ceiling)
    assert NumbersParams.from_dict({}).replace(rate=0.5).ceiling == float("inf")


# -- YAML as a user writes it ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, value",
    [
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("-1e-3", -0.001),
        ("+1e3", 1000.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.5e-3", 0.0015),
        ("2.", 2.0),
        ("[1e-3, .5]", [0.001, 0.5]),
        ("{lr: 1e-3}", {"lr": 0.001}),
        (".inf", float("inf")),
        ("3", 3),
        ("-3", -3),
        ("true", True),
        ("1.2.3", "1.2.3"),
        ("e3", "e3"),
        ("1e", "1e"),
        ("layer09", "layer09"),
        ("[9, 10", "[9, 10"),  # not YAML: the text itself
    ],
)
def test_values_parse_as_a_user_writes_them(text, value):
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_yaml_documents_and_files(tmp_path):
    assert load_yaml("asr:\n  lr: 1e-3\n  epochs: 3\n", "x") == {"asr": {"lr": 0.001, "epochs": 3}}
    assert load_yaml("", "x") is None
    with pytest.raises(ParamError) as info:
        load_yaml("a: 1\n---\nb: 2\n", "parameter file f.yaml")
    assert str(info.value) == (
        "parameter file f.yaml holds 2 YAML documents (separated by '---'); expected one"
    )
    with pytest.raises(ParamError) as info:
        load_yaml("a: [1\n", "parameter file f.yaml")
    assert str(info.value) == (
        "parameter file f.yaml is not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(line 2, column 1)"
    )

    f = tmp_path / "f.yaml"
    f.write_bytes("\ufeffa: .5\n".encode())  # a byte-order mark is fine
    assert read_yaml(f, "parameter file") == {"a": 0.5}
    f.write_bytes(b"a: 1\nname: caf\xe9\n")  # Latin-1
    with pytest.raises(ParamError) as info:
        read_yaml(f, "parameter file")
    assert str(info.value) == f"parameter file {f} is not UTF-8 text (byte 0xe9 on line 2); save it as UTF-8"
    for path, problem in ((tmp_path / "none.yaml", "does not exist"), (tmp_path, "is not a file")):
        with pytest.raises(ParamError) as info:
            read_yaml(path, "profile file")
        assert str(info.value) == f"profile file {path} {problem}"
