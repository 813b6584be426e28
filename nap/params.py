"""Typed, validated stage parameters.

Each stage declares its parameters as a frozen dataclass deriving from
:class:`StageParams`; the field's type hint is its type, the default is the value of
the default profile, and the ``doc`` metadata says what it means. papermill only warns
on unknown parameters, so every value that reaches a stage goes through
:meth:`StageParams.from_dict`, which names the offending parameter.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, ClassVar, Literal, Union, get_args, get_origin


class ParamError(ValueError):
    """A parameter is unknown or has a value of the wrong type."""


def param(default: Any, doc: str, keyed: bool = True) -> Any:
    """A dataclass field with a default and a one-line description.

    ``keyed=False`` marks a setting of the machine rather than of the result (threads, device):
    it is left out of the artifact key, so changing it reuses or resumes the same artifact.
    """
    meta = {"doc": doc, "keyed": keyed}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def check_threads(value: int | str, name: str) -> None:
    """A thread or process count is ``auto`` (the machine's cores) or at least 1."""
    if value != "auto" and (not isinstance(value, int) or value < 1):
        raise ParamError(f"parameter {name!r} must be auto or at least 1, got {value!r}")


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(tp))
        return f"{origin.__name__}[{args}]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, name: str) -> Any:
    """Return ``value`` as type ``tp`` (ints widen to floats, tuples to lists) or raise."""
    origin = get_origin(tp)
    bad = ParamError(f"parameter {name!r}: expected {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise bad
    if origin in (Union, types.UnionType):
        inner: ParamError | None = None
        for arg in get_args(tp):
            try:
                return coerce(value, arg, name)
            except ParamError as exc:
                # an error inside a container of the right kind says more than the union's
                if get_origin(arg) in (list, tuple, dict) and isinstance(value, (list, tuple, dict)):
                    inner = inner or exc
        raise inner or bad
    if tp is type(None):
        if value is None:
            return None
        raise bad
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise bad
        (item_tp, *_) = get_args(tp) or (Any,)
        return [coerce(v, item_tp, f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {coerce(k, key_tp, name): coerce(v, val_tp, f"{name}[{k!r}]") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad
    raise ParamError(f"parameter {name!r}: unsupported type {tp!r}")


@dataclasses.dataclass(frozen=True)
class StageParams:
    """Base class of every stage's parameters."""

    stage: ClassVar[str] = ""

    @classmethod
    def fields(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None) -> StageParams:
        """Validate ``values`` (unknown names and wrong types raise ParamError)."""
        values = dict(values or {})
        fields = cls.fields()
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(fields))
        if unknown:
            near = [m for u in unknown for m in difflib.get_close_matches(u, fields, n=1)]
            hint = f" (did you mean {', '.join(f'{cls.stage}.{m}' for m in near)}?)" if near else ""
            raise ParamError(
                f"unknown parameter(s) {', '.join(f'{cls.stage}.{u}' for u in unknown)}{hint}; "
                f"{cls.stage} takes: {', '.join(fields)}"
            )
        clean = {k: coerce(v, hints[k], f"{cls.stage}.{k}") for k, v in values.items()}
        obj = cls(**clean)
        obj.check()
        return obj

    def check(self) -> None:
        """Cross-field checks; override and raise ParamError naming the parameter."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key_dict(self) -> dict[str, Any]:
        """The parameters that make the artifact key (machine settings, ``keyed=False``, left out)."""
        unkeyed = {f.name for f in dataclasses.fields(self) if not f.metadata.get("keyed", True)}
        return {k: v for k, v in self.to_dict().items() if k not in unkeyed}

    def replace(self, **changes: Any) -> StageParams:
        return type(self).from_dict({**self.to_dict(), **changes})

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, type, default, doc) for every parameter, for tables and the README."""
        hints = typing.get_type_hints(cls)
        rows = []
        for name, f in cls.fields().items():
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append((name, _type_name(hints[name]), default, f.metadata.get("doc", "")))
        return rows
